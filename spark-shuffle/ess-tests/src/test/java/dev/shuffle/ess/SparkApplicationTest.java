package dev.shuffle.ess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.apache.spark.HashPartitioner;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import dev.shuffle.testkit.ShuffleServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * Real Spark applications (local-cluster: a master and 2 workers in this JVM, executors in
 * their own JVMs) with spark.shuffle.service.enabled=true and the shuffle-server's Spark
 * listener as their shuffle service: the result equals the built-in shuffle's; an executor
 * killed after its maps finished, or the server SIGKILLed and restarted between the map and
 * reduce stages, costs no stage re-run.
 */
class SparkApplicationTest {
  private static final int MAPS = 6;
  private static final int REDUCERS = 8;

  @TempDir
  static Path tmp;
  static ShuffleServer server;
  static Map<Integer, Long> expected;

  /** Counts stage submissions per stage id and remembers which executor ran which map. */
  static final class Recorder extends SparkListener {
    final Map<Integer, Integer> submissions = new ConcurrentHashMap<>();
    final Map<Integer, Set<String>> executorsByStage = new ConcurrentHashMap<>();
    final Set<String> live = ConcurrentHashMap.newKeySet();

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted e) {
      submissions.merge(e.stageInfo().stageId(), 1, Integer::sum);
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd e) {
      executorsByStage.computeIfAbsent(e.stageId(), k -> ConcurrentHashMap.newKeySet())
          .add(e.taskInfo().executorId());
    }

    @Override
    public void onExecutorAdded(SparkListenerExecutorAdded e) {
      live.add(e.executorId());
    }

    @Override
    public void onExecutorRemoved(SparkListenerExecutorRemoved e) {
      live.remove(e.executorId());
    }
  }

  @BeforeAll
  static void setUp() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("root"));
    server = EssServers.start(tmp.resolve("server"), root);
    // The built-in shuffle's answer (local mode: the same sort-shuffle writer and reader, in
    // one JVM).
    try (JavaSparkContext sc = new JavaSparkContext(conf(false, "builtin").setMaster("local[2]"))) {
      expected = sums(shuffled(sc));
    }
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  static SparkConf conf(boolean externalShuffle, String name) throws Exception {
    Path local = Files.createDirectories(tmp.resolve("root").resolve(name));
    SparkConf conf = new SparkConf()
        .setMaster("local-cluster[2,1,1024]")
        .setAppName("ess-" + name)
        .set("spark.local.dir", local.toString())
        .set("spark.ui.enabled", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.executor.memory", "512m")
        .set("spark.cleaner.referenceTracking", "false");
    if (externalShuffle) {
      conf.set("spark.shuffle.service.enabled", "true")
          .set("spark.shuffle.service.port", String.valueOf(server.sparkPort()))
          // Executors on one host would read each other's files directly (host-local reads,
          // with the dirs from GetLocalDirsForExecutors); fetch through the service instead.
          .set("spark.shuffle.readHostLocalDisk", "false");
    }
    return conf;
  }

  /** A shuffle of MAPS x REDUCERS blocks: key k -> sum of the values generated for it. */
  static JavaPairRDD<Integer, Long> shuffled(JavaSparkContext sc) {
    List<Integer> seeds = new ArrayList<>();
    for (int i = 0; i < MAPS; i++) {
      seeds.add(i);
    }
    return sc.parallelize(seeds, MAPS)
        .flatMapToPair(seed -> {
          java.util.Random random = new java.util.Random(seed);
          List<Tuple2<Integer, Long>> out = new ArrayList<>();
          for (int i = 0; i < 20_000; i++) {
            out.add(new Tuple2<>(random.nextInt(500), (long) random.nextInt(1_000_000)));
          }
          return out.iterator();
        })
        .partitionBy(new HashPartitioner(REDUCERS));
  }

  static Map<Integer, Long> sums(JavaPairRDD<Integer, Long> shuffled) {
    return new java.util.TreeMap<>(shuffled.reduceByKey(Long::sum, REDUCERS).collectAsMap());
  }

  /** Runs only the map stage of the shuffle (its outputs registered with the driver). */
  static int runMapStage(JavaSparkContext sc, JavaPairRDD<Integer, Long> shuffled)
      throws Exception {
    ShuffleDependency<?, ?, ?> dep =
        (ShuffleDependency<?, ?, ?>) shuffled.rdd().dependencies().head();
    sc.sc().submitMapStage(dep).get();
    return dep.shuffleId();
  }

  static void awaitExecutors(Recorder recorder, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (recorder.live.size() < n && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(recorder.live.size() >= n, "executors up: " + recorder.live);
  }

  @Test
  void resultsEqualTheBuiltInShuffleAndBlocksComeFromTheServer() throws Exception {
    double served = server.metric("shuffle_spark_blocks_served_total");
    try (JavaSparkContext sc = new JavaSparkContext(conf(true, "same-result"))) {
      assertEquals(expected, sums(shuffled(sc)));
    }
    assertTrue(server.metric("shuffle_spark_registrations_total") >= 2);
    assertTrue(server.metric("shuffle_spark_blocks_served_total") > served);
  }

  @Test
  void executorKilledAfterItsMapsCostsNoStageRerun() throws Exception {
    Recorder recorder = new Recorder();
    try (JavaSparkContext sc = new JavaSparkContext(conf(true, "kill-executor"))) {
      sc.sc().addSparkListener(recorder);
      awaitExecutors(recorder, 2);
      JavaPairRDD<Integer, Long> shuffled = shuffled(sc);
      runMapStage(sc, shuffled);
      int mapStage = recorder.submissions.keySet().iterator().next();
      String victim = recorder.executorsByStage.get(mapStage).iterator().next();
      assertTrue(sc.sc().killExecutor(victim), "kill executor " + victim);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (recorder.live.contains(victim) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertFalse(recorder.live.contains(victim), "executor " + victim + " still up");
      assertEquals(expected, sums(shuffled));
      assertEquals(1, recorder.submissions.get(mapStage), "map stage submissions");
      recorder.submissions.forEach((stage, n) -> assertEquals(1, n, "stage " + stage));
    }
  }

  @Test
  void serverKilledAndRestartedBetweenMapAndReduceStages() throws Exception {
    Recorder recorder = new Recorder();
    try (JavaSparkContext sc = new JavaSparkContext(conf(true, "restart-server"))) {
      sc.sc().addSparkListener(recorder);
      awaitExecutors(recorder, 2);
      JavaPairRDD<Integer, Long> shuffled = shuffled(sc);
      runMapStage(sc, shuffled);
      int mapStage = recorder.submissions.keySet().iterator().next();
      server.kill();
      server.restart();
      assertEquals(2, (long) server.metric("shuffle_spark_registered_executors"));
      assertEquals(expected, sums(shuffled));
      assertEquals(1, recorder.submissions.get(mapStage), "map stage submissions");
      assertTrue(server.metric("shuffle_spark_blocks_served_total") > 0);
    }
  }
}
