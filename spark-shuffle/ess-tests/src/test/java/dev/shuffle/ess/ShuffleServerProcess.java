package dev.shuffle.ess;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real shuffle-server process (the binary CMake built, -Dshuffle.server.binary) on loopback
 * with every port 0; its bound addresses come from its --ready-file (docs/ready-file.md). Its
 * data directory survives {@link #kill()} so {@link #restart()} finds the same state.
 */
final class ShuffleServerProcess implements AutoCloseable {
  private final Path dir;
  private final List<String> extraArgs;
  private Process process;
  private Map<String, String> ready = Map.of();

  private ShuffleServerProcess(Path dir, List<String> extraArgs) {
    this.dir = dir;
    this.extraArgs = extraArgs;
  }

  /** Starts a server whose Spark listener serves executors' dirs under {@code localDirsRoot}. */
  static ShuffleServerProcess start(Path dir, Path localDirsRoot, String... extraArgs)
      throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of(extraArgs));
    args.add("--spark-local-dirs-root=" + localDirsRoot);
    ShuffleServerProcess server = new ShuffleServerProcess(dir, args);
    server.launch();
    return server;
  }

  static String binary() {
    String path = System.getProperty("shuffle.server.binary");
    if (path == null || !new File(path).canExecute()) {
      throw new IllegalStateException("no shuffle-server binary at -Dshuffle.server.binary=" + path
          + ": build it first (cmake, ninja shuffle-server; tools/test does both)");
    }
    return path;
  }

  private void launch() throws IOException, InterruptedException {
    Path readyFile = dir.resolve("ready");
    Files.deleteIfExists(readyFile);
    Files.createDirectories(dir.resolve("data"));
    List<String> command = new ArrayList<>(List.of(binary(),
        "--data-dir=" + dir.resolve("data"),
        "--listen=127.0.0.1:0", "--control-listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
        "--spark-listen=127.0.0.1:0", "--ready-file=" + readyFile, "--log-level=warning"));
    command.addAll(extraArgs);
    process = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.log").toFile()))
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("shuffle-server exited with " + process.exitValue()
            + " during start; its log: " + Files.readString(dir.resolve("server.log")));
      }
      if (Files.exists(readyFile)) {
        Map<String, String> fields = new HashMap<>();
        for (String field : Files.readString(readyFile, StandardCharsets.UTF_8).trim().split(" ")) {
          int eq = field.indexOf('=');
          fields.put(field.substring(0, eq), field.substring(eq + 1));
        }
        ready = fields;
        return;
      }
      Thread.sleep(20);
    }
    close();
    throw new IllegalStateException("shuffle-server wrote no ready file within 30 s");
  }

  /** Host of the Spark listener. */
  String sparkHost() {
    String address = ready.get("spark");
    return address.substring(0, address.lastIndexOf(':'));
  }

  int sparkPort() {
    String address = ready.get("spark");
    return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
  }

  String metricsAddress() {
    return ready.get("metrics");
  }

  /** The /metrics page. */
  String metrics() throws IOException, InterruptedException {
    var client = java.net.http.HttpClient.newHttpClient();
    var request = java.net.http.HttpRequest.newBuilder(
        java.net.URI.create("http://" + metricsAddress() + "/metrics")).build();
    return client.send(request, java.net.http.HttpResponse.BodyHandlers.ofString()).body();
  }

  /** A counter or gauge of the /metrics page (0 when absent). */
  double metric(String name) throws IOException, InterruptedException {
    for (String line : metrics().split("\n")) {
      if (line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(name.length() + 1).trim());
      }
    }
    return 0;
  }

  long pid() {
    return process.pid();
  }

  /** SIGKILL, as a node under pressure or a crash would; the data directory stays. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /**
   * Starts again on the same data directory and the same Spark port (Spark's executors know
   * the service by its port), as a DaemonSet pod restarts.
   */
  void restartOnSamePorts() throws IOException, InterruptedException {
    if (process.isAlive()) {
      kill();
    }
    List<String> saved = new ArrayList<>(extraArgs);
    extraArgs.add("--spark-listen=" + ready.get("spark"));
    try {
      launch();
    } finally {
      extraArgs.clear();
      extraArgs.addAll(saved);
    }
  }

  /** Starts again on the same data directory (new ports). */
  void restart() throws IOException, InterruptedException {
    if (process.isAlive()) {
      kill();
    }
    launch();
  }

  String log() throws IOException {
    return Files.readString(dir.resolve("server.log"));
  }

  @Override
  public void close() {
    if (process == null || !process.isAlive()) {
      return;
    }
    process.destroy();  // SIGTERM: drains and exits
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
