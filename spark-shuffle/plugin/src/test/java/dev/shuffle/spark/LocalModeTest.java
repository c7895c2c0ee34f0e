package dev.shuffle.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shuffle.testkit.ShuffleServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

/**
 * Real Spark in local mode: every job's result with the plugin equals its result with Spark's
 * built-in sort shuffle on the same generated data. The built-in results are computed first, in
 * a session of their own; then one session with the plugin runs every job against a real
 * shuffle-server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LocalModeTest {
  static final Map<String, Function<SparkSession, Workloads.Summary>> JOBS = new LinkedHashMap<>();

  static {
    JOBS.put("rdd sortByKey", s -> Workloads.rddSort(jsc(s)));
    JOBS.put("rdd reduceByKey", s -> Workloads.rddReduceByKey(jsc(s)));
    JOBS.put("rdd groupByKey", s -> Workloads.rddGroupByKey(jsc(s)));
    JOBS.put("rdd join", s -> Workloads.rddJoin(jsc(s)));
    JOBS.put("rdd cogroup", s -> Workloads.rddCogroup(jsc(s)));
    JOBS.put("empty partitions", s -> Workloads.emptyPartitions(jsc(s)));
    JOBS.put("10,000 partitions", s -> Workloads.tenThousandPartitions(jsc(s)));
    JOBS.put("records larger than a block", s -> Workloads.largeRecords(jsc(s)));
    JOBS.put("sql group-by", Workloads::sqlGroupBy);
    JOBS.put("sql join", Workloads::sqlJoin);
    JOBS.put("sql window", Workloads::sqlWindow);
    JOBS.put("sql repartition", Workloads::sqlRepartition);
    JOBS.put("aqe coalesced partitions", Workloads::aqeCoalesce);
    JOBS.put("aqe skewed join split", Workloads::aqeSkewJoin);
    JOBS.put("aqe local shuffle reader", Workloads::aqeLocalReader);
    JOBS.put("retried map attempts", s -> Workloads.retriedMaps(jsc(s)));
  }

  // Local mode with 4 attempts per task (Spark's default in a cluster; local mode's is 1).
  static final String MASTER = "local[4,4]";

  private Path root;
  private ShuffleServer server;
  private final Map<String, Workloads.Summary> builtin = new LinkedHashMap<>();
  private SparkSession spark;
  private final JobStats stats = new JobStats();

  static JavaSparkContext jsc(SparkSession s) {
    return JavaSparkContext.fromSparkContext(s.sparkContext());
  }

  @BeforeAll
  void setUp() throws Exception {
    root = Files.createTempDirectory("local-mode-test");
    SparkSession reference = SparkSessions.start(SparkSessions.common(MASTER), Map.of());
    try {
      for (var job : JOBS.entrySet()) {
        builtin.put(job.getKey(), job.getValue().apply(reference));
      }
    } finally {
      reference.stop();
    }
    server = ShuffleServer.start(root.resolve("server"), "node-a", "127.0.0.1");
    spark =
        SparkSessions.start(
            SparkSessions.plugin(
                SparkSessions.common(MASTER), server.controlAddress(), server.socketAddress()),
            Map.of());
    spark.sparkContext().addSparkListener(stats);
  }

  @AfterAll
  void tearDown() throws Exception {
    if (spark != null) {
      spark.stop();
    }
    if (server != null) {
      server.close();
    }
    ShuffleServer.deleteTree(root);
  }

  @TestFactory
  List<DynamicTest> resultsEqualTheBuiltInShuffle() {
    List<DynamicTest> tests = new ArrayList<>();
    for (var job : JOBS.entrySet()) {
      tests.add(
          DynamicTest.dynamicTest(
              job.getKey(),
              () -> {
                Workloads.Summary expected = builtin.get(job.getKey());
                assertTrue(expected.text().contains("rows=") || expected.text().contains(":"));
                assertEquals(expected, job.getValue().apply(spark), job.getKey());
              }));
    }
    return tests;
  }

  private void drainEvents() {
    try {
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void retriedMapAttemptsNeverDuplicateOrLoseRecords() {
    double recordsBefore = server.metrics().get("shuffle_pushed_records_total");
    stats.reset();
    assertEquals(builtin.get("retried map attempts"), Workloads.retriedMaps(jsc(spark)));
    drainEvents();
    // 9 maps: 3 failed after committing, 3 in the middle of their writes; each ran again.
    assertEquals(15, stats.mapAttempts, stats.toString());
    assertEquals(9, stats.mapSuccesses, stats.toString());
    assertEquals(0, stats.stageRetries, stats.toString());
    // The server received each of the 90,000 records once: the retries of the maps that failed
    // after their commit found their output committed and pushed nothing (their status is the
    // first attempt's), those of the maps that failed midway had pushed nothing yet.
    assertEquals(90_000.0, server.metrics().get("shuffle_pushed_records_total") - recordsBefore);
  }

  @Test
  void shuffleMetricsEqualWhatTheServerCounted() {
    Map<String, Double> before = server.metrics();
    stats.reset();
    Workloads.rddGroupByKey(jsc(spark));
    Workloads.sqlGroupBy(spark);
    drainEvents();
    Map<String, Double> after = server.metrics();
    assertTrue(stats.recordsWritten > 100_000, stats.toString());
    assertEquals(
        after.get("shuffle_pushed_bytes_total") - before.get("shuffle_pushed_bytes_total"),
        (double) stats.bytesWritten, "bytes written");
    assertEquals(
        after.get("shuffle_pushed_records_total") - before.get("shuffle_pushed_records_total"),
        (double) stats.recordsWritten, "records written");
    assertEquals(
        after.get("shuffle_disk_read_bytes_total") - before.get("shuffle_disk_read_bytes_total"),
        (double) stats.bytesRead, "bytes read");
    assertEquals(stats.recordsWritten, stats.recordsRead, "every record written is read once");
  }
}
