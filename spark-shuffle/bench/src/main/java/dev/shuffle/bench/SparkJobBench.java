package dev.shuffle.bench;

import dev.shuffle.spark.NodeShuffleConf;
import dev.shuffle.spark.NodeShuffleDataIO;
import dev.shuffle.spark.NodeShuffleManager;
import dev.shuffle.testkit.ShuffleServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.spark.SparkConf;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.sql.SparkSession;

/**
 * spark-job-bench: the same Spark jobs, on one node (local mode), with Spark's built-in sort
 * shuffle and with the plugin against a real shuffle-server, interleaved run by run, and each
 * job's time and shuffle-read time as a ratio built-in / plugin (above 1: the plugin is faster).
 *
 * <ul>
 *   <li>sort: {@code --gib} of 100-byte rows (8-byte key, 84-byte value) sorted by key;
 *   <li>group-by: the same rows grouped by a key of about one value per 4 rows (partial
 *       aggregation barely shrinks it, so the whole size is shuffled);
 *   <li>small-blocks: 600 maps x 1,000 partitions of about 600-byte blocks each (many small
 *       blocks, the case a node-local service exists to make cheap).
 * </ul>
 *
 * Shuffle-read time is the wall time of the stages that read shuffle data. Usage:
 * spark-job-bench --server-binary PATH [--gib 1] [--runs 3] [--jobs sort,group-by,small-blocks]
 * [--cores 2] [--out results.json] [--work DIR]
 */
public final class SparkJobBench {
  record Measurement(String job, String shuffle, int run, double seconds, double readSeconds) {}

  private final Map<String, String> args;
  private double gib;
  private final int runs;
  private final List<String> jobs;
  private final int cores;
  private final List<Measurement> results = new ArrayList<>();

  SparkJobBench(Map<String, String> args) {
    this.args = args;
    this.gib = Double.parseDouble(args.getOrDefault("gib", "1"));
    this.runs = Integer.parseInt(args.getOrDefault("runs", "3"));
    this.jobs = Arrays.asList(args.getOrDefault("jobs", "sort,group-by,small-blocks").split(","));
    this.cores = Integer.parseInt(args.getOrDefault("cores", "2"));
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new LinkedHashMap<>();
    for (int i = 0; i < argv.length; i++) {
      if (argv[i].equals("-h") || argv[i].equals("--help")) {
        System.out.println(
            "spark-job-bench --server-binary PATH [--gib 1] [--runs 3]"
                + " [--jobs sort,group-by,small-blocks] [--cores 2] [--out FILE] [--work DIR]"
                + " [--plugin-conf KEY=VALUE,...]");
        return;
      }
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
        throw new IllegalArgumentException("expected --name value pairs, got " + argv[i]);
      }
      args.put(argv[i].substring(2), argv[++i]);
    }
    if (args.containsKey("server-binary")) {
      System.setProperty("shuffle.server.binary", args.get("server-binary"));
    }
    new SparkJobBench(args).run();
  }

  void run() throws Exception {
    Path work = Files.createTempDirectory(Path.of(args.getOrDefault("work", "/tmp")), "spark-bench");
    try (ShuffleServer server = ShuffleServer.start(work.resolve("server"), "bench", "127.0.0.1")) {
      // Warm up (JIT, page cache, the server) with every job at a tenth of the size; not counted.
      double full = gib;
      gib = gib / 10;
      runSession("built-in", -1, server, work);
      runSession("plugin", -1, server, work);
      gib = full;
      results.clear();
      for (int r = 0; r < runs; r++) {
        // Alternate which shuffle goes first, so that neither always meets a warmer machine.
        String[] order = r % 2 == 0 ? new String[] {"built-in", "plugin"} : new String[] {"plugin", "built-in"};
        for (String shuffle : order) {
          runSession(shuffle, r, server, work);
        }
      }
    } finally {
      ShuffleServer.deleteTree(work);
    }
    report();
  }

  private void runSession(String shuffle, int run, ShuffleServer server, Path work) {
    SparkConf conf =
        new SparkConf()
            .setMaster("local[" + cores + "]")
            .setAppName("spark-job-bench")
            .set("spark.ui.enabled", "false")
            .set("spark.driver.host", "127.0.0.1")
            .set("spark.local.dir", work.resolve("spark-local").toString())
            .set("spark.sql.shuffle.partitions", Integer.toString(Math.max(4, (int) (gib * 16))))
            .set("spark.sql.adaptive.enabled", "false")
            .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
    if (shuffle.equals("plugin")) {
      conf.set("spark.shuffle.manager", NodeShuffleManager.class.getName())
          .set("spark.shuffle.sort.io.plugin.class", NodeShuffleDataIO.class.getName())
          .set(NodeShuffleConf.SERVERS, server.controlAddress())
          .set(NodeShuffleConf.SERVER, server.socketAddress());
      // Settings to compare (e.g. spark.nodeshuffle.compressionLevel=0), applied to the plugin.
      for (String setting : args.getOrDefault("plugin-conf", "").split(",")) {
        if (!setting.isBlank()) {
          String[] kv = setting.split("=", 2);
          if (kv.length != 2) {
            throw new IllegalArgumentException("--plugin-conf: expected KEY=VALUE, got " + setting);
          }
          conf.set(kv[0].trim(), kv[1].trim());
        }
      }
    }
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    ReadStages stages = new ReadStages();
    spark.sparkContext().addSparkListener(stages);
    try {
      for (String job : jobs) {
        stages.reset();
        long start = System.nanoTime();
        runJob(spark, job);
        double seconds = (System.nanoTime() - start) / 1e9;
        spark.sparkContext().listenerBus().waitUntilEmpty();
        Measurement m = new Measurement(job, shuffle, run, seconds, stages.readSeconds());
        results.add(m);
        System.out.printf(
            Locale.ROOT, "%-6s %-12s %-8s %7.2f s (shuffle read %6.2f s)%n",
            run < 0 ? "warmup" : "run " + (run + 1), job,
            shuffle, m.seconds(), m.readSeconds());
      }
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException(e);
    } finally {
      spark.stop();
    }
  }

  private void runJob(SparkSession spark, String job) {
    long rows = (long) (gib * (1L << 30) / 100);
    Consumer<String> sql = q -> spark.sql(q).write().format("noop").mode("overwrite").save();
    spark.range(0, rows, 1, Math.max(2, (int) (gib * 16))).createOrReplaceTempView("t");
    switch (job) {
      case "sort" ->
          sql.accept(
              "SELECT xxhash64(id) AS k, repeat(CAST(id % 10 AS STRING), 84) AS v FROM t ORDER BY k");
      case "group-by" ->
          sql.accept(
              "SELECT k, count(*) AS n, max(v) AS v FROM (SELECT pmod(xxhash64(id), "
                  + Math.max(1, rows / 4)
                  + ") AS k, repeat(CAST(id % 10 AS STRING), 84) AS v FROM t) GROUP BY k");
      case "small-blocks" -> {
        long smallRows = 600L * 1000 * 6; // about 6 rows of 100 bytes per (map, partition)
        spark.range(0, smallRows, 1, 600).createOrReplaceTempView("s");
        spark
            .sql("SELECT id, repeat('z', 84) AS v FROM s")
            .repartition(1000)
            .write()
            .format("noop")
            .mode("overwrite")
            .save();
      }
      default -> throw new IllegalArgumentException("unknown job " + job);
    }
  }

  private void report() throws IOException {
    StringBuilder json = new StringBuilder("{\"gib\": " + gib + ", \"cores\": " + cores + ", \"jobs\": [");
    System.out.println();
    System.out.printf(Locale.ROOT, "%-12s %22s %22s %11s %11s %24s%n", "job",
        "built-in s (min-max)", "plugin s (min-max)", "time ratio", "read ratio",
        "run by run (min-max)");
    for (int j = 0; j < jobs.size(); j++) {
      String job = jobs.get(j);
      double[] builtin = values(job, "built-in", false);
      double[] plugin = values(job, "plugin", false);
      double[] builtinRead = values(job, "built-in", true);
      double[] pluginRead = values(job, "plugin", true);
      double timeRatio = median(builtin) / median(plugin);
      double readRatio = median(builtinRead) / median(pluginRead);
      // Each run's pair (the two shuffles back to back) shares the machine's state of the
      // moment, so their ratio is steadier than the ratio of the medians on a noisy machine.
      double[] pairs = new double[Math.min(builtin.length, plugin.length)];
      for (int i = 0; i < pairs.length; i++) {
        pairs[i] = builtin[i] / plugin[i];
      }
      System.out.printf(Locale.ROOT,
          "%-12s %8.2f (%5.2f-%5.2f) %8.2f (%5.2f-%5.2f) %10.2fx %10.2fx %9.2fx (%.2f-%.2f)%n",
          job, median(builtin), min(builtin), max(builtin), median(plugin), min(plugin),
          max(plugin), timeRatio, readRatio, median(pairs), min(pairs), max(pairs));
      json.append(j == 0 ? "" : ", ")
          .append(String.format(Locale.ROOT,
              "{\"job\": \"%s\", \"builtin_seconds\": %s, \"plugin_seconds\": %s,"
                  + " \"builtin_read_seconds\": %s, \"plugin_read_seconds\": %s,"
                  + " \"time_ratio\": %.3f, \"read_ratio\": %.3f, \"run_ratios\": %s}",
              job, Arrays.toString(builtin), Arrays.toString(plugin), Arrays.toString(builtinRead),
              Arrays.toString(pluginRead), timeRatio, readRatio, Arrays.toString(pairs)));
    }
    json.append("]}\n");
    System.out.println("(ratios: built-in / plugin, of the medians and of each run's pair;"
        + " above 1 the plugin is faster)");
    if (args.containsKey("out")) {
      Files.writeString(Path.of(args.get("out")), json.toString());
    }
  }

  private double[] values(String job, String shuffle, boolean read) {
    return results.stream()
        .filter(m -> m.job().equals(job) && m.shuffle().equals(shuffle))
        .mapToDouble(m -> read ? m.readSeconds() : m.seconds())
        .toArray();
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double min(double[] v) {
    return Arrays.stream(v).min().orElse(0);
  }

  private static double max(double[] v) {
    return Arrays.stream(v).max().orElse(0);
  }

  /** The wall time of the stages that read shuffle data. */
  static final class ReadStages extends SparkListener {
    private double seconds;

    synchronized void reset() {
      seconds = 0;
    }

    synchronized double readSeconds() {
      return seconds;
    }

    @Override
    public synchronized void onStageCompleted(SparkListenerStageCompleted event) {
      StageInfo info = event.stageInfo();
      if (info.taskMetrics() != null
          && info.taskMetrics().shuffleReadMetrics().totalBlocksFetched() > 0
          && info.submissionTime().isDefined()
          && info.completionTime().isDefined()) {
        seconds +=
            ((Long) info.completionTime().get() - (Long) info.submissionTime().get()) / 1000.0;
      }
    }
  }
}
