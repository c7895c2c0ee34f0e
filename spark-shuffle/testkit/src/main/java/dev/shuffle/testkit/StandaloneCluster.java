package dev.shuffle.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Spark standalone cluster of child JVMs on this machine: a master on 127.0.0.1 and one worker
 * per simulated node, each on a loopback address of its own (127.0.0.2, ...: Spark then sees
 * distinct hosts, as speculation and locality need) and with an environment of its own (the
 * node's shuffle server), which the executors it launches inherit, as executor pods on a node
 * get the node's address. close() stops workers (and so their executors) and the master.
 * Not thread-safe.
 */
public final class StandaloneCluster implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
  private static final Pattern MASTER_URL = Pattern.compile("(spark://[0-9.]+:[0-9]+)");

  /** One worker: its host address, environment, cores and memory. */
  public record Node(String host, Map<String, String> env, int cores, int memoryMb) {}

  private final Path root;
  private final List<Process> workers = new ArrayList<>();
  private Process master;
  private String masterUrl;

  private StandaloneCluster(Path root) {
    this.root = root;
  }

  public static StandaloneCluster start(Path root, List<Node> nodes) throws IOException {
    StandaloneCluster cluster = new StandaloneCluster(root);
    try {
      cluster.startMaster();
      for (int i = 0; i < nodes.size(); i++) {
        cluster.startWorker(i, nodes.get(i));
      }
    } catch (IOException | RuntimeException e) {
      cluster.close();
      throw e;
    }
    return cluster;
  }

  public String masterUrl() {
    return masterUrl;
  }

  private List<String> java(String mainClass, int heapMb) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(Arrays.asList(SparkHome.JAVA_17_OPTIONS));
    command.add("-Xmx" + heapMb + "m");
    command.add("-cp");
    command.add(SparkHome.classPath());
    command.add(mainClass);
    return command;
  }

  private ProcessBuilder builder(List<String> command, Path log) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    pb.environment().put("SPARK_HOME", SparkHome.path().toString());
    pb.environment().put("SPARK_SCALA_VERSION", SparkHome.SCALA_VERSION);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    return pb;
  }

  private void startMaster() throws IOException {
    Files.createDirectories(root);
    List<String> command = java("org.apache.spark.deploy.master.Master", 512);
    command.addAll(List.of("--host", "127.0.0.1", "--port", "0", "--webui-port", "0"));
    Path log = root.resolve("master.log");
    master = builder(command, log).start();
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (masterUrl == null) {
      String text = Files.exists(log) ? Files.readString(log) : "";
      Matcher m = MASTER_URL.matcher(text);
      if (text.contains("I have been elected leader") && m.find()) {
        masterUrl = m.group(1);
        break;
      }
      if (!master.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException("the Spark master did not start: " + text);
      }
      ShuffleServer.sleep(100);
    }
  }

  private void startWorker(int index, Node node) throws IOException {
    Path work = root.resolve("worker-" + index);
    Files.createDirectories(work);
    List<String> command = java("org.apache.spark.deploy.worker.Worker", 512);
    command.addAll(
        List.of(
            "--host", node.host(), "--port", "0", "--webui-port", "0",
            "--cores", Integer.toString(node.cores()), "--memory", node.memoryMb() + "m",
            "--work-dir", work.toString(), masterUrl));
    ProcessBuilder pb = builder(command, root.resolve("worker-" + index + ".log"));
    Map<String, String> env = new HashMap<>(node.env());
    env.put("SPARK_LOCAL_IP", node.host());
    pb.environment().putAll(env);
    workers.add(pb.start());
  }

  /** Log files of the master, workers and executors, for a failing test's message. */
  public Path root() {
    return root;
  }

  @Override
  public void close() throws IOException {
    for (Process worker : workers) {
      stop(worker);
    }
    workers.clear();
    if (master != null) {
      stop(master);
      master = null;
    }
  }

  private static void stop(Process p) {
    p.destroy(); // SIGTERM: a worker kills its executors on the way out
    if (!ShuffleServer.waitFor(p)) {
      p.destroyForcibly();
      ShuffleServer.waitFor(p);
    }
  }
}
