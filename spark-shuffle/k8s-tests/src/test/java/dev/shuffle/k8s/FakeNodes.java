package dev.shuffle.k8s;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Three fake nodes (n1, n2, n3; host IPs 127.0.0.31 to .33, pod IPs 127.1.3N.x) played by one
 * shuffle-node-agent process against the control plane, with the shuffle service of deploy/base
 * applied as it is (server-side apply) but for one edit: the servers listen on their node's IP
 * rather than 0.0.0.0, since the fake nodes share one network namespace. The DaemonSet controller
 * places a server on each node; the agent runs it (shuffle/shuffle:0.1.0 -> the shuffle-server
 * binary) and Spark's executor pods (apache/spark:4.1.1 -> tests/k8s/spark-image/entrypoint,
 * with SPARK_HOME the executors' Spark home). The agent runs under a shell that ends it when
 * this JVM ends, and it kills every process it started when it ends. Not thread-safe.
 */
final class FakeNodes implements AutoCloseable {
  static final String SPARK_IMAGE = "apache/spark:4.1.1";
  static final String SERVER_IMAGE = "shuffle/shuffle:0.1.0";
  static final List<String> NODES = List.of("n1", "n2", "n3");
  static final String SYSTEM_NAMESPACE = "shuffle-system";

  private final ControlPlane plane;
  private final Path root;
  private Process agent;

  private FakeNodes(ControlPlane plane, Path root) {
    this.plane = plane;
    this.root = root;
  }

  static String hostIp(int node) {
    return "127.0.0." + (31 + node);
  }

  /** Node n(i+1)'s server control plane, "host:7338". */
  static String controlAddress(int node) {
    return hostIp(node) + ":7338";
  }

  static Path property(String name) {
    String value = System.getProperty(name, "");
    if (value.isEmpty() || !Files.exists(Path.of(value))) {
      throw new IllegalStateException(
          "system property " + name + "='" + value + "' does not exist (tools/test builds the"
              + " C++ tree with CMake first, then runs Maven)");
    }
    return Path.of(value);
  }

  /** Starts the agent, applies deploy/base and waits (bounded) for the three servers. */
  static FakeNodes start(ControlPlane plane, Path root) throws Exception {
    FakeNodes nodes = new FakeNodes(plane, root);
    try {
      nodes.startAgent();
      nodes.applyDeploy();
      nodes.awaitServers();
    } catch (Exception | Error e) {
      nodes.close();
      throw e;
    }
    return nodes;
  }

  private void startAgent() throws IOException {
    Files.createDirectories(root);
    List<String> args = new ArrayList<>();
    args.add(property("shuffle.node.agent").toString());
    args.add("--kubeconfig=" + plane.kubeconfig());
    args.add("--root=" + root.resolve("nodes"));
    args.add("--image-map=" + SERVER_IMAGE + "=" + property("shuffle.server.binary"));
    args.add("--image-map=" + SPARK_IMAGE + "="
        + ControlPlane.sourceDir().resolve("tests/k8s/spark-image/entrypoint"));
    for (int i = 0; i < NODES.size(); i++) {
      String node = NODES.get(i);
      args.add("--node=" + node);
      args.add("--host-ip=" + node + "=" + hostIp(i));
      args.add("--pod-ips=" + node + "=127.1." + (31 + i));
    }
    // The agent under a shell that ends it (SIGTERM: it kills what it started) when this JVM or
    // the shell itself is asked to end.
    String script =
        "\"$@\" & a=$!\n"
            + "trap 'kill -TERM $a 2>/dev/null; wait $a; exit 0' TERM INT\n"
            + "while kill -0 " + ProcessHandle.current().pid() + " 2>/dev/null"
            + " && kill -0 $a 2>/dev/null; do sleep 1; done\n"
            + "kill -TERM $a 2>/dev/null; wait $a\n";
    List<String> command = new ArrayList<>(List.of("bash", "-c", script, "node-agent"));
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command);
    // What the executors' "image" provides: $SPARK_HOME. Nothing else of Spark's leaks in.
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("SPARK_") || k.startsWith("SHUFFLE_"));
    env.put("SPARK_HOME", property("spark.k8s.home").toString());
    agent =
        pb.redirectErrorStream(true)
            .redirectOutput(root.resolve("node-agent.log").toFile())
            .start();
  }

  /** deploy/base, as deploy_test applies it; the executors' RBAC comes from deploy/spark. */
  private void applyDeploy() throws IOException {
    Path base = ControlPlane.sourceDir().resolve("deploy/base");
    for (String file :
        List.of("namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "secret.yaml",
            "configmap.yaml", "daemonset.yaml")) {
      String text = Files.readString(base.resolve(file));
      if (file.equals("daemonset.yaml")) {
        for (String port : List.of("7340", "7337", "7338", "7339")) {
          String from = "0.0.0.0:" + port;
          if (!text.contains(from)) {
            throw new IllegalStateException("deploy/base/daemonset.yaml has no " + from);
          }
          text = text.replace(from, "$(HOST_IP):" + port);
        }
      }
      apply(plane.admin(), text);
    }
    apply(plane.admin(),
        Files.readString(ControlPlane.sourceDir().resolve("deploy/spark/rbac.yaml")));
  }

  /** Server-side apply of every object of a YAML text. */
  static void apply(KubernetesClient client, String yaml) {
    for (HasMetadata object :
        client.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items()) {
      client.resource(object).fieldManager("k8s-tests").forceConflicts().serverSideApply();
    }
  }

  /** The DaemonSet's pod on each node, by node. */
  Map<String, Pod> serverPods() {
    Map<String, Pod> byNode = new TreeMap<>();
    for (Pod p :
        plane.admin().pods().inNamespace(SYSTEM_NAMESPACE)
            .withLabel("app.kubernetes.io/component", "server").list().getItems()) {
      if (p.getSpec().getNodeName() != null && p.getMetadata().getDeletionTimestamp() == null) {
        byNode.put(p.getSpec().getNodeName(), p);
      }
    }
    return byNode;
  }

  /** Waits until each node's server pod runs and its control plane accepts connections. */
  void awaitServers() throws InterruptedException {
    await(180, "a running shuffle-server on each of " + NODES + " (see " + root + ")", () -> {
      Map<String, Pod> pods = serverPods();
      if (!pods.keySet().equals(new java.util.TreeSet<>(NODES))) {
        return false;
      }
      for (int i = 0; i < NODES.size(); i++) {
        if (!"Running".equals(pods.get(NODES.get(i)).getStatus().getPhase())
            || !connects(hostIp(i), 7338) || !connects(hostIp(i), 7340)) {
          return false;
        }
      }
      return true;
    });
  }

  static boolean connects(String host, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Polls {@code condition} every 250 ms for at most {@code seconds}; fails naming {@code what}. */
  static void await(int seconds, String what, BooleanSupplier condition)
      throws InterruptedException {
    await(seconds, () -> what, condition);
  }

  /** The same, with the failure's description made when it fails. */
  static void await(int seconds, Supplier<String> what, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + seconds + " s: " + what.get());
      }
      Thread.sleep(250);
    }
  }

  /** The operator secret the servers' Secret holds (drivers register applications with it). */
  String operatorSecret() {
    String encoded =
        plane.admin().secrets().inNamespace(SYSTEM_NAMESPACE).withName("shuffle-secrets").get()
            .getData().get("operator-secret");
    return new String(java.util.Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
  }

  Path root() {
    return root;
  }

  @Override
  public void close() {
    if (agent != null) {
      agent.destroy(); // SIGTERM to the shell, which stops the agent, which kills its processes
      try {
        if (!agent.waitFor(60, TimeUnit.SECONDS)) {
          agent.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        agent.destroyForcibly();
      }
      agent = null;
    }
  }
}
