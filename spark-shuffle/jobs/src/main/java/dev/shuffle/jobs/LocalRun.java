package dev.shuffle.jobs;

import dev.shuffle.spark.NodeShuffleConf;
import dev.shuffle.spark.NodeShuffleDataIO;
import dev.shuffle.spark.NodeShuffleManager;
import dev.shuffle.testkit.ShuffleServer;
import dev.shuffle.testkit.StandaloneCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * The main job on a machine of its own (tools/run): a Spark standalone cluster whose workers play
 * {@code nodes} simulated nodes (127.0.0.2, 127.0.0.3, ...), each with its own shuffle-server
 * whose Unix socket its executors find in their environment as executor pods find their node's
 * server, one executor per node; the driver in this JVM. Runs {@link MainJob} with the plugin
 * (or Spark's built-in shuffle, for the contrast), evicting by SIGKILL of the executor's JVM.
 * close() stops the application, the cluster and the servers and removes the work directory
 * (unless {@link #keepLogs}).
 * Not thread-safe.
 */
public final class LocalRun implements AutoCloseable {
  /** How the cluster is laid out. */
  public record Layout(int nodes, int coresPerExecutor, int executorMemoryMb, boolean plugin,
      Map<String, String> extraConf) {
    public static Layout defaults() {
      return new Layout(3, 2, 2048, true, Map.of());
    }
  }

  private final Path work;
  private final List<ShuffleServer> servers = new ArrayList<>();
  private StandaloneCluster cluster;
  private SparkSession spark;
  private boolean keepLogs;

  private LocalRun(Path work) {
    this.work = work;
  }

  /** Starts the servers, the cluster and the application, and waits for every executor. */
  public static LocalRun start(Path workParent, Layout layout) throws IOException {
    Files.createDirectories(workParent);
    LocalRun run = new LocalRun(Files.createTempDirectory(workParent, "main-job"));
    try {
      run.startAll(layout);
    } catch (IOException | RuntimeException e) {
      run.close();
      throw e;
    }
    return run;
  }

  private void startAll(Layout layout) throws IOException {
    List<StandaloneCluster.Node> nodes = new ArrayList<>();
    for (int i = 0; i < layout.nodes(); i++) {
      String host = "127.0.0." + (i + 2);
      ShuffleServer server =
          ShuffleServer.start(work.resolve("server-" + i), "node-" + i, host);
      servers.add(server);
      String socket = server.socketAddress().substring("unix:".length());
      nodes.add(new StandaloneCluster.Node(host, Map.of("SHUFFLE_SERVER_SOCKET", socket),
          layout.coresPerExecutor(), layout.executorMemoryMb() + 256));
    }
    cluster = StandaloneCluster.start(work.resolve("spark"), nodes);
    SparkConf conf =
        new SparkConf()
            .setMaster(cluster.masterUrl())
            .setAppName("shuffle-main-job")
            .set("spark.ui.enabled", "false")
            .set("spark.driver.host", "127.0.0.1")
            .set("spark.executor.cores", Integer.toString(layout.coresPerExecutor()))
            .set("spark.executor.memory", layout.executorMemoryMb() + "m")
            .set("spark.cores.max",
                Integer.toString(layout.nodes() * layout.coresPerExecutor()))
            .set("spark.sql.warehouse.dir", work.resolve("warehouse").toString())
            // Executors start quickly on loopback; waiting for all keeps the first wave even.
            .set("spark.scheduler.minRegisteredResourcesRatio", "1.0")
            .set("spark.scheduler.maxRegisteredResourcesWaitingTime", "120s");
    if (layout.plugin()) {
      conf.set("spark.shuffle.manager", NodeShuffleManager.class.getName())
          .set("spark.shuffle.sort.io.plugin.class", NodeShuffleDataIO.class.getName())
          .set(NodeShuffleConf.SERVERS,
              servers.stream().map(ShuffleServer::controlAddress).collect(Collectors.joining(",")))
          .set("spark.executor.extraClassPath", pluginJar());
    }
    layout.extraConf().forEach(conf::set);
    spark = SparkSession.builder().config(conf).getOrCreate();
    int wanted = layout.extraConf().containsKey("spark.dynamicAllocation.enabled")
        ? 0 : layout.nodes();
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (spark.sparkContext().getExecutorIds().size() < wanted) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "executors did not register in 120 s: see the logs under " + cluster.root());
      }
      sleep(200);
    }
  }

  /** Where the plugin's classes are (its jar, or classes directory in a build tree). */
  static String pluginJar() {
    return Path.of(NodeShuffleManager.class.getProtectionDomain().getCodeSource().getLocation()
        .getPath()).toString();
  }

  public SparkSession spark() {
    return spark;
  }

  public List<ShuffleServer> servers() {
    return servers;
  }

  /** The master's, workers' and executors' logs. */
  public Path logs() {
    return cluster.root();
  }

  /** Makes close() leave the logs (the master's, workers' and executors') in place. */
  public void keepLogs() {
    keepLogs = true;
  }

  /** Runs the main job, evicting by SIGKILL of the executor's JVM. */
  public Report runJob(MainJob.Options options, PrintStream out, boolean terminal)
      throws InterruptedException {
    return MainJob.run(spark, options, Evictor.processKill(), out, terminal);
  }

  @Override
  public void close() throws IOException {
    if (spark != null) {
      spark.stop();
      spark = null;
    }
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
    for (ShuffleServer s : servers) {
      s.close();
    }
    servers.clear();
    if (!keepLogs) {
      ShuffleServer.deleteTree(work);
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

  static final String USAGE =
      "local-run --server-binary PATH --spark-home DIR [--nodes 3] [--executor-memory 2048]"
          + " [--shuffle plugin|builtin] [--work DIR] [job options]\n" + MainJob.USAGE;

  /** tools/run's entry point. Exit status: 0 when the job validated (and evicted as asked). */
  public static void main(String[] argv) throws Exception {
    List<String> known = new ArrayList<>(MainJob.JOB_OPTIONS);
    known.addAll(List.of("server-binary", "spark-home", "nodes", "executor-memory", "shuffle",
        "work"));
    Map<String, String> args;
    MainJob.Options options;
    try {
      args = MainJob.parseArgs(argv, known, MainJob.JOB_FLAGS);
      options = MainJob.options(args, MainJob.Options.defaults().withEviction(Phase.MAP));
    } catch (IllegalArgumentException e) {
      System.err.println("local-run: " + e.getMessage() + "\n" + USAGE);
      System.exit(2);
      return;
    }
    if (args.containsKey("help")) {
      System.out.print(USAGE);
      return;
    }
    System.setProperty("shuffle.server.binary", args.getOrDefault("server-binary", ""));
    System.setProperty("spark.test.home", args.getOrDefault("spark-home", ""));
    String shuffle = args.getOrDefault("shuffle", "plugin");
    if (!shuffle.equals("plugin") && !shuffle.equals("builtin")) {
      System.err.println("local-run: --shuffle takes plugin or builtin, not '" + shuffle + "'");
      System.exit(2);
    }
    Layout layout = new Layout(Integer.parseInt(args.getOrDefault("nodes", "3")), 2,
        Integer.parseInt(args.getOrDefault("executor-memory", "2048")), shuffle.equals("plugin"),
        Map.of());
    PrintStream out = System.out;
    out.printf("main job: %d simulated nodes (Spark standalone workers), each with its own"
        + " shuffle-server; %s; evicting one executor during the %s stage%n", layout.nodes(),
        layout.plugin() ? "the plugin" : "Spark's built-in shuffle", options.evictDuring().label());
    Report report;
    try (LocalRun run = start(Path.of(args.getOrDefault("work", System.getProperty(
        "java.io.tmpdir"))), layout)) {
      out.println("cluster up: " + layout.nodes() + " executors registered; running the job");
      try {
        report = run.runJob(options, out, System.console() != null);
      } catch (RuntimeException e) {
        run.keepLogs();
        System.err.println("main job failed: " + e + "\nthe cluster's logs are kept under "
            + run.logs());
        throw e;
      }
      if (!report.ok()) {
        run.keepLogs();
        out.println("the cluster's logs are kept under " + run.logs());
      }
    }
    out.println();
    out.print(report.text());
    System.exit(report.ok() ? 0 : 1);
  }
}
