package dev.shuffle.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Dynamic allocation with the plugin and neither Spark's external shuffle service nor shuffle
 * tracking (what the plugin's reliable storage allows): 3 executors run a map stage of 12 tasks,
 * then one reduce task holds the job open (it waits for a file the test creates) while the 2 idle
 * executors are released (1 s idle timeout). The reduce then reads the map output those
 * executors wrote, from their nodes' servers: the result is exact, no map and no stage ran again.
 *
 * <p>Each map task first waits (bounded) until map tasks have started on all 3 executors, so the
 * map output is spread over them whatever the scheduler does on a loaded machine (otherwise one
 * executor can run all 12 maps while the others are still starting, and releasing the others
 * proves nothing).
 */
class DynamicAllocationTest {
  static final int MAPS = 12;
  static final long PER_MAP = 200_000;
  static final long KEYS = 1000;

  @TempDir Path work;

  @Test
  void idleExecutorsAreReleasedMidJobAndTheirMapOutputIsStillRead() throws Exception {
    // The executors load the test's functions (and the classes they name).
    String testClasses = classesOf(DynamicAllocationTest.class) + ":" + classesOf(LocalRun.class);
    Map<String, String> conf =
        Map.of(
            "spark.dynamicAllocation.enabled", "true",
            "spark.dynamicAllocation.shuffleTracking.enabled", "false",
            "spark.dynamicAllocation.initialExecutors", "3",
            "spark.dynamicAllocation.minExecutors", "0",
            "spark.dynamicAllocation.maxExecutors", "3",
            "spark.dynamicAllocation.executorIdleTimeout", "1s",
            "spark.executor.extraClassPath", LocalRun.pluginJar() + ":" + testClasses);
    try (LocalRun run = LocalRun.start(work, new LocalRun.Layout(3, 2, 768, true, conf))) {
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(run.spark().sparkContext());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (sc.sc().getExecutorIds().size() < 3) {
        assertTrue(System.nanoTime() < deadline, "3 executors did not register: " + run.logs());
        Thread.sleep(200);
      }
      JobListener listener = new JobListener();
      listener.addExecutors(CollectionConverters.asJava(sc.sc().getExecutorIds()));
      sc.sc().addSparkListener(listener);

      String gate = work.resolve("gate").toString();
      String mappers = Files.createDirectory(work.resolve("mappers")).toString();
      List<Integer> seeds = new ArrayList<>();
      for (int i = 0; i < MAPS; i++) {
        seeds.add(i);
      }
      CompletableFuture<long[]> result =
          CompletableFuture.supplyAsync(
              () ->
                  sc.parallelize(seeds, MAPS)
                      .flatMapToPair(
                          seed -> {
                            awaitMappersOnEveryExecutor(mappers, 3);
                            List<Tuple2<Long, Long>> out = new ArrayList<>();
                            for (long i = seed * PER_MAP; i < (seed + 1) * PER_MAP; i++) {
                              out.add(new Tuple2<>(i % KEYS, i));
                            }
                            return out.iterator();
                          })
                      .reduceByKey(Long::sum, 1)
                      .mapPartitions(
                          it -> {
                            waitForFile(gate);
                            long keys = 0;
                            long sum = 0;
                            long check = 0;
                            while (it.hasNext()) {
                              Tuple2<Long, Long> kv = it.next();
                              keys++;
                              sum += kv._2;
                              check += kv._1 * 31 + kv._2 % 1_000_003;
                            }
                            return List.of(new long[] {keys, sum, check}).iterator();
                          })
                      .collect()
                      .get(0));
      // The reduce task waits; the map stage's executors go idle and are released.
      deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      // (Executors idle before the job started may have been released too: only those that
      // wrote map output count.)
      List<String> released = releasedMappers(listener);
      while (released.size() < 2) {
        assertTrue(System.nanoTime() < deadline && !result.isDone(),
            "idle executors were not released: " + listener.removedExecutors() + ", maps by"
                + " executor " + listener.mapsDoneByExecutor());
        Thread.sleep(200);
        released = releasedMappers(listener);
      }
      Files.createFile(Path.of(gate));
      long[] got = result.get(120, TimeUnit.SECONDS);
      sc.sc().listenerBus().waitUntilEmpty();

      long n = MAPS * PER_MAP;
      long check = 0;
      for (long k = 0; k < KEYS; k++) {
        long sumOfKey = 0; // the ids i < n with i % KEYS == k
        for (long i = k; i < n; i += KEYS) {
          sumOfKey += i;
        }
        check += k * 31 + sumOfKey % 1_000_003;
      }
      assertEquals(KEYS, got[0]);
      assertEquals(n * (n - 1) / 2, got[1]);
      assertEquals(check, got[2]);
      String what = "released after writing map output: " + released + "; map attempts " + listener.mapTaskAttempts()
          + " for " + listener.mapPartitions() + " partitions; stage re-runs "
          + listener.stageReruns();
      System.out.println("dynamic allocation: " + what);
      assertEquals(0, listener.stageReruns(), what);
      assertEquals(listener.mapPartitions(), listener.mapTaskAttempts(), what);
      assertEquals(0, listener.failedTasks(), what);

    }
  }

  static String classesOf(Class<?> c) throws java.net.URISyntaxException {
    return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }

  /** The removed executors that had run map tasks. */
  static List<String> releasedMappers(JobListener listener) {
    Map<String, Integer> maps = listener.mapsDoneByExecutor();
    return listener.removedExecutors().stream()
        .filter(r -> maps.getOrDefault(r.substring(0, r.indexOf(' ')), 0) > 0)
        .toList();
  }

  /**
   * Marks this executor as running a map task and waits until {@code executors} distinct
   * executors have (pending tasks make dynamic allocation start them; bounded by 120 s).
   */
  static void awaitMappersOnEveryExecutor(String dir, int executors) throws Exception {
    Path marks = Path.of(dir);
    Path mine = marks.resolve(org.apache.spark.SparkEnv.get().executorId());
    if (!Files.exists(mine)) {
      try {
        Files.createFile(mine);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        // another task of this executor marked it first
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (true) {
      long seen;
      try (var files = Files.list(marks)) {
        seen = files.count();
      }
      if (seen >= executors) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "map tasks started on only " + seen + " of " + executors + " executors in 120 s");
      }
      Thread.sleep(100);
    }
  }

  static void waitForFile(String path) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!Files.exists(Path.of(path))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the test did not open the gate " + path);
      }
      Thread.sleep(100);
    }
  }
}
