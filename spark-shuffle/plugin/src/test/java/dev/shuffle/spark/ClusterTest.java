package dev.shuffle.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shuffle.spark.driver.NodeShuffleDriverComponents;
import dev.shuffle.testkit.ShuffleServer;
import dev.shuffle.testkit.StandaloneCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.MapOutputTrackerMaster;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Real Spark on a standalone cluster of two simulated nodes (workers on 127.0.0.2 and
 * 127.0.0.3, each with its own shuffle-server, which its executors find in their environment as
 * executor pods find their node's server): speculative attempts, a server killed and restarted
 * in the middle of a job, a server whose data is lost for good, and a server decommissioned
 * (its outputs handed over to the other node's server) before its node goes away.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterTest {
  private Path root;
  private ShuffleServer nodeA;
  private ShuffleServer nodeB;
  private StandaloneCluster cluster;

  @BeforeAll
  void startNodes() throws Exception {
    root = Files.createTempDirectory("cluster-test");
    nodeA = ShuffleServer.start(root.resolve("server-a"), "node-a", "127.0.0.2");
    nodeB = ShuffleServer.start(root.resolve("server-b"), "node-b", "127.0.0.3");
    cluster =
        StandaloneCluster.start(
            root.resolve("spark"),
            List.of(
                new StandaloneCluster.Node(
                    "127.0.0.2", Map.of("SHUFFLE_SERVER_SOCKET", socketOf(nodeA)), 2, 1024),
                new StandaloneCluster.Node(
                    "127.0.0.3", Map.of("SHUFFLE_SERVER_SOCKET", socketOf(nodeB)), 2, 1024)));
  }

  private static String socketOf(ShuffleServer server) {
    return server.socketAddress().substring("unix:".length());
  }

  @AfterAll
  void stopNodes() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
    for (ShuffleServer s : new ShuffleServer[] {nodeA, nodeB}) {
      if (s != null) {
        s.close();
      }
    }
    ShuffleServer.deleteTree(root);
  }

  private SparkSession spark;
  private final JobStats stats = new JobStats();

  private SparkSession start(Map<String, String> extra) {
    SparkConf conf =
        SparkSessions.common(cluster.masterUrl())
            .set("spark.shuffle.manager", NodeShuffleManager.class.getName())
            .set("spark.shuffle.sort.io.plugin.class", NodeShuffleDataIO.class.getName())
            .set(NodeShuffleConf.SERVERS, nodeA.controlAddress() + "," + nodeB.controlAddress())
            .set("spark.executor.memory", "768m")
            .set("spark.executor.cores", "2")
            .set("spark.cores.max", "4")
            .set(
                "spark.executor.extraClassPath",
                System.getProperty("plugin.classes") + ":"
                    + System.getProperty("plugin.test.classes"))
            .set(NodeShuffleConf.MAX_RETRIES, "12");
    spark = SparkSessions.start(conf, extra);
    spark.sparkContext().addSparkListener(stats);
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (spark.sparkContext().getExecutorMemoryStatus().size() < 3) { // 2 executors + driver
      assertTrue(System.nanoTime() < deadline, "executors did not register: see " + cluster.root());
      sleep(200);
    }
    return spark;
  }

  @AfterEach
  void stopSpark() {
    if (spark != null) {
      spark.stop();
      spark = null;
    }
  }

  private void drainEvents() {
    try {
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  // The maps whose registered output lives on each node, from the driver's map output tracker.
  private static Map<String, Integer> mapsByNode(int shuffleId) {
    MapOutputTrackerMaster tracker = (MapOutputTrackerMaster) SparkEnv.get().mapOutputTracker();
    Map<String, Integer> out = new HashMap<>();
    MapStatus[] statuses = tracker.shuffleStatuses().get(shuffleId).get().mapStatuses();
    for (MapStatus s : statuses) {
      out.merge(s.location().executorId(), 1, Integer::sum);
    }
    return out;
  }

  private static int shuffleIdOf(JavaPairRDD<?, ?> rdd) {
    return ((org.apache.spark.ShuffleDependency<?, ?, ?>) rdd.rdd().dependencies().head())
        .shuffleId();
  }

  // A job whose map stage ran once, one attempt per map, with outputs on node A.
  private record MapStageRun(
      JavaPairRDD<Long, Long> rdd, Workloads.Summary expected, int shuffleId, int onA) {}

  private MapStageRun runMapStageOnce() {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaPairRDD<Long, Long> rdd = Workloads.counts(sc);
    stats.reset();
    Workloads.Summary expected = Workloads.countsSummary(rdd); // the map stage runs once
    drainEvents();
    assertEquals(8, stats.mapAttempts, "one attempt per map: " + stats);
    int shuffleId = shuffleIdOf(rdd);
    int onA = mapsByNode(shuffleId).getOrDefault("nodeshuffle:node-a", 0);
    assertTrue(onA > 0, mapsByNode(shuffleId).toString());
    return new MapStageRun(rdd, expected, shuffleId, onA);
  }

  // Waits (bounded: 60 s) until the driver's map output tracker has no output of the shuffle at
  // node A's server any more.
  private static void awaitNothingOnNodeA(int shuffleId, String what) {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (mapsByNode(shuffleId).containsKey("nodeshuffle:node-a")) {
      assertTrue(System.nanoTime() < deadline, what + ": " + mapsByNode(shuffleId));
      sleep(100);
    }
  }

  // The next job on the same shuffle: the expected result, read without any fetch failure, stage
  // retry or map attempt.
  private void assertReadAgainWithoutRerun(
      Workloads.Summary expected, JavaPairRDD<Long, Long> rdd) {
    stats.reset();
    assertEquals(expected, Workloads.countsSummary(rdd));
    drainEvents();
    assertEquals(0, stats.fetchFailures, stats.toString());
    assertEquals(0, stats.stageRetries, stats.toString());
    assertEquals(0, stats.mapAttempts, "no map ran again: " + stats);
  }

  @Test
  void speculativeMapAttemptsNeverDuplicateOrLoseRecords() {
    start(
        Map.of(
            "spark.speculation", "true",
            "spark.speculation.interval", "100ms",
            "spark.speculation.multiplier", "1.5",
            "spark.speculation.quantile", "0.5",
            "spark.speculation.minTaskRuntime", "100ms"));
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Workloads.Summary expected = Workloads.countsSummary(Workloads.counts(sc));
    double commitsBefore = nodeA.metrics().get("shuffle_commits_total")
        + nodeB.metrics().get("shuffle_commits_total");
    stats.reset();
    // The first attempt of map 0 is a straggler that ignores being killed: it still commits
    // after its speculative copy did (on the other node: Spark never speculates on the same
    // host), so the servers hold two outputs of map 0.
    JavaPairRDD<Long, Long> slow = Workloads.countsWithAStraggler(sc);
    assertEquals(expected, Workloads.countsSummary(slow));
    drainEvents();
    sleep(5000); // the straggler finishes its commit after the job
    double commits = nodeA.metrics().get("shuffle_commits_total")
        + nodeB.metrics().get("shuffle_commits_total") - commitsBefore;
    assertTrue(stats.speculativeMaps >= 1, stats.toString());
    assertTrue(commits > 8, "map 0 was committed twice: " + commits + " commits; " + stats);
    assertEquals(0, stats.stageRetries, stats.toString());
  }

  @Test
  void aServerKilledAndRestartedMidJobCostsNoStageRerun() throws Exception {
    start(Map.of());
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Workloads.Summary expected = Workloads.countsSummary(Workloads.counts(sc));
    stats.reset();
    // Node A's server dies (SIGKILL) when the first reduce task starts, and comes back on the same
    // data 3 s later: readers retry through the gap.
    AtomicBoolean killed = new AtomicBoolean();
    Thread[] restarter = new Thread[1];
    SparkListener killer =
        new SparkListener() {
          @Override
          public void onTaskStart(SparkListenerTaskStart event) {
            if (killed.compareAndSet(false, true)) {
              nodeA.kill();
              restarter[0] =
                  new Thread(
                      () -> {
                        sleep(3000);
                        try {
                          nodeA.restart();
                        } catch (Exception e) {
                          throw new IllegalStateException(e);
                        }
                      });
              restarter[0].start();
            }
          }
        };
    JavaPairRDD<Long, Long> rdd = Workloads.counts(sc);
    rdd.count(); // map stage done, outputs on both nodes: the next job only reads
    spark.sparkContext().addSparkListener(killer);
    stats.reset();
    assertEquals(expected, Workloads.countsSummary(rdd));
    restarter[0].join();
    drainEvents();
    spark.sparkContext().removeSparkListener(killer);
    assertTrue(killed.get());
    assertEquals(0, stats.stageRetries, stats.toString());
    assertEquals(0, stats.fetchFailures, stats.toString());
    assertEquals(0, stats.mapAttempts, "no map ran again: " + stats);
  }

  @Test
  void aServerWhoseDataIsLostCostsOnlyThatNodesMaps() throws Exception {
    start(Map.of());
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaPairRDD<Long, Long> rdd = Workloads.counts(sc);
    Workloads.Summary expected = Workloads.countsSummary(rdd); // runs the map stage once; outputs registered
    int shuffleId = shuffleIdOf(rdd);
    Map<String, Integer> byNode = mapsByNode(shuffleId);
    int onA = byNode.getOrDefault("nodeshuffle:node-a", 0);
    assertTrue(onA > 0 && byNode.getOrDefault("nodeshuffle:node-b", 0) > 0, byNode.toString());
    nodeA.wipeAndRestart(); // node A's disk is gone; its server comes back empty
    stats.reset();
    assertEquals(expected, Workloads.countsSummary(rdd));
    drainEvents();
    assertTrue(stats.fetchFailures >= 1, stats.toString());
    assertEquals(onA, stats.mapSuccesses, "exactly node A's maps ran again: " + stats);
  }

  @Test
  void aDecommissionedServersOutputsAreReadFromTheirNewPlaceWithoutRerun() throws Exception {
    start(Map.of(NodeShuffleConf.MOVES_POLL_INTERVAL, "200ms"));
    MapStageRun run = runMapStageOnce();
    JavaPairRDD<Long, Long> rdd = run.rdd();
    Workloads.Summary expected = run.expected();
    int shuffleId = run.shuffleId();
    int onA = run.onA();
    NodeShuffleDriverComponents components =
        (NodeShuffleDriverComponents) spark.sparkContext().shuffleDriverComponents();
    long movedBefore = components.movesApplied();
    try {
      // Node A is drained: its server hands every output over to node B's server...
      String report = nodeA.decommission(nodeB);
      assertTrue(report.contains(onA + " of " + onA + " map outputs moved"), report);
      // ...and the driver re-points Spark's map output locations.
      awaitNothingOnNodeA(shuffleId, "the driver never learned the moves");
      assertEquals(onA, components.movesApplied() - movedBefore);
      assertEquals(8, mapsByNode(shuffleId).get("nodeshuffle:node-b"));
      nodeA.kill(); // the node is gone
      assertReadAgainWithoutRerun(expected, rdd);
    } finally {
      nodeA.restart(); // for the other tests: a fresh server (it left draining behind)
    }
  }

  @Test
  void aServerStoppedOnALeavingNodeHandsItsOutputsOverWithoutRerun() throws Exception {
    // Node A's server as the DaemonSet runs it on a node going away: SIGTERM hands its outputs
    // over to node B's server, then it lingers while the driver learns the new places.
    nodeA.close();
    nodeA =
        ShuffleServer.start(
            root.resolve("server-a"), "node-a", "127.0.0.2",
            "--handover-on-stop=always",
            "--handover-peers=" + nodeB.dataAddress() + "/" + nodeB.controlAddress(),
            "--handover-linger-seconds=20");
    try {
      start(Map.of(NodeShuffleConf.MOVES_POLL_INTERVAL, "200ms"));
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      JavaPairRDD<Long, Long> rdd = Workloads.counts(sc);
      stats.reset();
      Workloads.Summary expected = Workloads.countsSummary(rdd);
      drainEvents();
      assertEquals(8, stats.mapAttempts, "one attempt per map: " + stats);
      int shuffleId = shuffleIdOf(rdd);
      assertTrue(mapsByNode(shuffleId).getOrDefault("nodeshuffle:node-a", 0) > 0,
          mapsByNode(shuffleId).toString());
      nodeA.terminate();
      awaitNothingOnNodeA(shuffleId, "the driver never learned the moves");
      assertTrue(nodeA.waitForExit(java.time.Duration.ofSeconds(60)), "node A's server lingered on");
      assertReadAgainWithoutRerun(expected, rdd);
    } finally {
      nodeA.close();
      nodeA = ShuffleServer.start(root.resolve("server-a"), "node-a", "127.0.0.2");
    }
  }
  // replicas=2, the servers named with their data planes (they listen on free ports).
  private Map<String, String> withReplicas(String pollInterval) {
    return Map.of(
        NodeShuffleConf.REPLICAS, "2",
        NodeShuffleConf.MOVES_POLL_INTERVAL, pollInterval,
        NodeShuffleConf.MAX_RETRIES, "3",
        NodeShuffleConf.SERVERS,
        nodeA.dataAddress() + "/" + nodeA.controlAddress() + ","
            + nodeB.dataAddress() + "/" + nodeB.controlAddress());
  }

  @Test
  void withReplicasALostServersOutputsAreReadFromTheirReplicasWithoutRerun() throws Exception {
    start(withReplicas("200ms"));
    MapStageRun run = runMapStageOnce();
    int shuffleId = run.shuffleId();
    int onA = run.onA();
    assertTrue(onA < 8, mapsByNode(shuffleId).toString());
    // Every output has its second copy on the other node's server.
    MapOutputTrackerMaster tracker = (MapOutputTrackerMaster) SparkEnv.get().mapOutputTracker();
    for (MapStatus s : tracker.shuffleStatuses().get(shuffleId).get().mapStatuses()) {
      String replicaNode =
          ServerLocations.replica(s.location()).orElseThrow(() -> new AssertionError(
              "no replica in " + s.location())).executorId();
      assertNotEquals(s.location().executorId(), replicaNode);
    }
    NodeShuffleDriverComponents components =
        (NodeShuffleDriverComponents) spark.sparkContext().shuffleDriverComponents();
    try {
      // Node A is lost without notice: its server is SIGKILLed and its disk is gone.
      nodeA.kill();
      ShuffleServer.deleteTree(nodeA.dataDir());
      // The driver finds the server lost and re-points its outputs to their replicas.
      awaitNothingOnNodeA(shuffleId, "the driver never failed over");
      assertEquals(onA, components.replicasApplied());
      assertEquals(8, mapsByNode(shuffleId).get("nodeshuffle:node-b"));
      assertReadAgainWithoutRerun(run.expected(), run.rdd());
    } finally {
      nodeA.restart(); // for the other tests: a fresh, empty server
    }
  }

  @Test
  void withReplicasReadersReadALostServersMapsFromTheirReplicas() throws Exception {
    start(withReplicas("0")); // the driver never fails over: the readers must
    MapStageRun run = runMapStageOnce();
    int shuffleId = run.shuffleId();
    try {
      nodeA.kill();
      ShuffleServer.deleteTree(nodeA.dataDir());
      assertReadAgainWithoutRerun(run.expected(), run.rdd());
      assertTrue(mapsByNode(shuffleId).containsKey("nodeshuffle:node-a"),
          "Spark still has node A's outputs there: " + mapsByNode(shuffleId));
    } finally {
      nodeA.restart();
    }
  }
}
