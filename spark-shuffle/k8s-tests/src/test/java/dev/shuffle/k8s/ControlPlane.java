package dev.shuffle.k8s;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The Kubernetes test environment's control plane (etcd, kube-apiserver, controller manager with
 * the DaemonSet, garbage collector and service-account controllers, scheduler), started by
 * tools/k8s/start in a directory of its own with this JVM as its owner (its watchdog kills
 * everything when the JVM dies, however it dies), and an admin client of fabric8's, the
 * Kubernetes client Spark itself uses. close() stops it (tools/k8s/stop). Not thread-safe.
 */
final class ControlPlane implements AutoCloseable {
  private final Path dir;
  private final Map<String, String> env;
  private final KubernetesClient admin;

  private ControlPlane(Path dir, Map<String, String> env) {
    this.dir = dir;
    this.env = env;
    Config config =
        new ConfigBuilder(Config.empty())
            .withMasterUrl(server())
            .withCaCertFile(caFile().toString())
            .withOauthToken(env.get("SHUFFLE_K8S_TOKEN"))
            .withNamespace("default")
            .build();
    admin = new KubernetesClientBuilder().withConfig(config).build();
  }

  /** The repository's root: system property shuffle.source.dir. */
  static Path sourceDir() {
    Path dir = Path.of(System.getProperty("shuffle.source.dir", "")).toAbsolutePath().normalize();
    if (!Files.isRegularFile(dir.resolve("tools/k8s/start"))) {
      throw new IllegalStateException(
          "system property shuffle.source.dir='" + dir + "' is not the repository's root");
    }
    return dir;
  }

  /** Starts a control plane in {@code dir} (bounded: tools/k8s/start waits at most 90 s). */
  static ControlPlane start(Path dir) throws IOException, InterruptedException {
    Path start = sourceDir().resolve("tools/k8s/start");
    Path log = dir.resolveSibling(dir.getFileName() + "-start.log");
    Process p =
        new ProcessBuilder(start.toString(), dir.toString(), "--owner-pid",
                Long.toString(ProcessHandle.current().pid()), "--lifetime", "3600")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    if (!p.waitFor(300, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("tools/k8s/start did not finish in 300 s: " + log);
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          "tools/k8s/start failed (exit " + p.exitValue() + "; the Kubernetes binaries come from"
              + " tools/k8s/build):\n" + Files.readString(log));
    }
    Map<String, String> env = new HashMap<>();
    for (String line : Files.readAllLines(dir.resolve("env"))) {
      // export NAME='value'
      if (line.startsWith("export ")) {
        int eq = line.indexOf('=');
        env.put(line.substring(7, eq), line.substring(eq + 1).replace("'", ""));
      }
    }
    return new ControlPlane(dir, env);
  }

  /** "https://127.0.0.1:PORT". */
  String server() {
    return env.get("SHUFFLE_K8S_SERVER");
  }

  /** The API server's certificate, which is also its CA. */
  Path caFile() {
    return Path.of(env.get("SHUFFLE_K8S_CA"));
  }

  Path kubeconfig() {
    return dir.resolve("kubeconfig");
  }

  Path dir() {
    return dir;
  }

  KubernetesClient admin() {
    return admin;
  }

  @Override
  public void close() throws IOException {
    admin.close();
    Process p =
        new ProcessBuilder(List.of(sourceDir().resolve("tools/k8s/stop").toString(),
                dir.toString()))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
  }
}
