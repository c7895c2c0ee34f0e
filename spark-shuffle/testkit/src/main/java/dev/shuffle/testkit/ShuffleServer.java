package dev.shuffle.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A real shuffle-server process for tests: its own data directory, socket and ready file under
 * a directory of its own, listening on {@code host} (any loopback address, so one machine can
 * play several nodes) on ports chosen by the kernel the first time and kept across restarts.
 * Can be killed with SIGKILL, restarted on the same data, or wiped (its data removed for good).
 * close() ends the process and removes its directory. Not thread-safe.
 */
public final class ShuffleServer implements AutoCloseable {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

  private final Path binary;
  private final Path root;
  private final String node;
  private final String host;
  private final List<String> extraFlags;
  private Process process;
  private ReadyFile ready;
  private int dataPort;
  private int controlPort;
  private int metricsPort;
  private int sparkPort;
  private int starts;

  private ShuffleServer(Path binary, Path root, String node, String host, List<String> extra) {
    this.binary = binary;
    this.root = root;
    this.node = node;
    this.host = host;
    this.extraFlags = List.copyOf(extra);
  }

  /** The server binary the build made: system property shuffle.server.binary. */
  public static Path defaultBinary() {
    String path = System.getProperty("shuffle.server.binary", "");
    if (path.isEmpty() || !Files.isExecutable(Path.of(path))) {
      throw new IllegalStateException(
          "system property shuffle.server.binary='" + path + "' is not an executable shuffle-server"
              + " (tools/test builds it with CMake first and passes it to Maven)");
    }
    return Path.of(path);
  }

  /** Starts a server for node {@code node} on {@code host}, e.g. 127.0.0.2. */
  public static ShuffleServer start(Path root, String node, String host, String... extraFlags)
      throws IOException {
    Files.createDirectories(root);
    ShuffleServer server =
        new ShuffleServer(defaultBinary(), root, node, host, List.of(extraFlags));
    server.launch();
    return server;
  }

  private void launch() throws IOException {
    Path readyFile = root.resolve("ready");
    Files.deleteIfExists(readyFile);
    Files.createDirectories(dataDir());
    List<String> command = new ArrayList<>();
    command.add(binary.toString());
    command.add("--data-dir=" + dataDir());
    command.add("--node-name=" + node);
    command.add("--listen=" + host + ":" + dataPort);
    command.add("--control-listen=" + host + ":" + controlPort);
    command.add("--metrics-listen=" + host + ":" + metricsPort);
    // Spark's shuffle-service protocol; on only with --spark-local-dirs-root among the flags.
    command.add("--spark-listen=" + host + ":" + sparkPort);
    command.add("--socket=" + root.resolve("data.sock"));
    command.add("--ready-file=" + readyFile);
    command.addAll(extraFlags);
    Path log = root.resolve("server-" + (++starts) + ".log");
    process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while ((ready = ReadyFile.readIfComplete(readyFile)) == null) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "shuffle-server for " + node + " exited with " + process.exitValue() + ": "
                + Files.readString(log));
      }
      if (System.nanoTime() > deadline) {
        process.destroyForcibly();
        throw new IllegalStateException("shuffle-server for " + node + " not ready in "
            + READY_TIMEOUT + ": " + Files.readString(log));
      }
      sleep(20);
    }
    dataPort = ready.port("data");
    controlPort = ready.port("control");
    metricsPort = ready.port("metrics");
    sparkPort = ready.get("spark").isEmpty() ? 0 : ready.port("spark");
  }

  public Path dataDir() {
    return root.resolve("data");
  }

  public String node() {
    return node;
  }

  /** Data plane, "host:port". */
  public String dataAddress() {
    return host + ":" + dataPort;
  }

  /** Control plane, "host:port". */
  public String controlAddress() {
    return host + ":" + controlPort;
  }

  /** The address every listener is on, e.g. 127.0.0.2. */
  public String host() {
    return host;
  }

  /** The port of Spark's shuffle-service protocol (0 unless --spark-local-dirs-root is given). */
  public int sparkPort() {
    return sparkPort;
  }

  /** The server process's id (for its CPU time). */
  public long pid() {
    return process.pid();
  }

  /** The Unix socket, "unix:/path" (the ready file's socket entry). */
  public String socketAddress() {
    return ready.get("socket");
  }

  public boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** SIGKILL, as a node under pressure or a crash would: nothing is flushed or drained. */
  public void kill() {
    if (process != null) {
      process.destroyForcibly();
      waitFor(process);
      process = null;
    }
  }

  /**
   * SIGTERM, as Kubernetes sends at a pod's termination; returns at once. The server drains (and,
   * with --handover-on-stop, hands its outputs over and lingers) before it exits: see
   * {@link #waitForExit}.
   */
  public void terminate() {
    if (process != null) {
      process.destroy();
    }
  }

  /** Waits at most {@code timeout} for the process to exit; true when it has (or never ran). */
  public boolean waitForExit(Duration timeout) {
    if (process == null) {
      return true;
    }
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Starts the server again on the same ports and data directory. */
  public void restart() throws IOException {
    kill();
    launch();
  }

  /** Kills the server and removes its data for good, then starts it again, empty. */
  public void wipeAndRestart() throws IOException {
    kill();
    deleteTree(dataDir());
    launch();
  }

  /**
   * Decommissions the server with {@code shufflectl decommission} (docs/node-loss.md): it drains
   * and hands every committed map output over to {@code peers}, then keeps serving reads until
   * killed. The shufflectl binary is system property shuffle.shufflectl.binary, else the one next
   * to the server in the build tree. Returns what shufflectl printed; throws when it failed or
   * left outputs behind.
   */
  public String decommission(ShuffleServer... peers) throws IOException {
    String property = System.getProperty("shuffle.shufflectl.binary", "");
    Path ctl =
        property.isEmpty()
            ? binary.getParent().getParent().resolve("tools/shufflectl/shufflectl")
            : Path.of(property);
    List<String> command = new ArrayList<>();
    command.add(ctl.toString());
    command.add("--server=" + controlAddress());
    command.add("--timeout-seconds=120");
    command.add("decommission");
    for (ShuffleServer peer : peers) {
      command.add("--peer=" + peer.dataAddress() + "/" + peer.controlAddress());
    }
    Path out = root.resolve("decommission.out");
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    boolean exited;
    try {
      exited = p.waitFor(180, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      exited = false;
    }
    if (!exited) {
      p.destroyForcibly();
      throw new IllegalStateException("shufflectl decommission did not finish: " + command);
    }
    String text = Files.readString(out);
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          "shufflectl decommission exited with " + p.exitValue() + ": " + text);
    }
    return text;
  }

  /** The server's /metrics, samples without labels by name (labelled ones by their full key). */
  public Map<String, Double> metrics() {
    return metrics(null);
  }

  /**
   * The same over HTTPS, for a server started with --tls-cert-file: its certificate is checked
   * against the PEM CA bundle {@code caFile} (null: plain HTTP).
   */
  public Map<String, Double> metrics(Path caFile) {
    try {
      HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
      if (caFile != null) {
        builder.sslContext(trusting(caFile));
      }
      HttpClient client = builder.build();
      String scheme = caFile != null ? "https://" : "http://";
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(scheme + host + ":" + metricsPort + "/metrics"))
              .timeout(Duration.ofSeconds(10))
              .build();
      String body = client.send(request, HttpResponse.BodyHandlers.ofString()).body();
      Map<String, Double> out = new HashMap<>();
      for (String line : body.split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        int space = line.lastIndexOf(' ');
        out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  // A TLS context that trusts the certificates of one PEM CA bundle.
  private static SSLContext trusting(Path caFile) throws IOException {
    try (InputStream in = Files.newInputStream(caFile)) {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + i++, c);
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IOException("loading the CA bundle " + caFile + ": " + e.getMessage(), e);
    }
  }

  /** One unlabelled sample of /metrics, 0 when the page has none. */
  public double metric(String name) {
    return metrics().getOrDefault(name, 0.0);
  }

  @Override
  public void close() throws IOException {
    if (process != null) {
      process.destroy();
      if (!waitFor(process)) {
        process.destroyForcibly();
        waitFor(process);
      }
      process = null;
    }
    deleteTree(root);
  }

  static boolean waitFor(Process p) {
    try {
      return p.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Removes a directory tree (nothing when it does not exist). */
  public static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
