package dev.shuffle.spark.driver;

import dev.shuffle.spark.NodeShuffleConf;
import dev.shuffle.spark.client.NativeControl;
import dev.shuffle.spark.client.NativeLibrary;
import dev.shuffle.spark.client.ShuffleServiceException;
import dev.shuffle.spark.replica.ServerAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.shuffle.api.ShuffleDriverComponents;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's side of the node shuffle service. At start it registers the application with a
 * server (its token is valid on every server of the cluster, which share one secret) and
 * declares reliable storage: map outputs live on the nodes' servers, so Spark keeps them when an
 * executor is lost and dynamic allocation needs no external shuffle service. It learns which
 * servers hold each shuffle when its map stage completes (and seals the shuffle there, so the
 * servers lay out its partitions for reading), follows the servers' hand-overs when their nodes
 * go away (MoveFollower: Spark's map output locations are re-pointed, no map re-runs), fails
 * over to the second copies when a server is lost (replicas=2, ReplicaFollower), and
 * removes shuffles and, at the end, the application from every server it knows of. Thread-safe.
 */
public final class NodeShuffleDriverComponents implements ShuffleDriverComponents {
  private static final Logger LOG = LoggerFactory.getLogger(NodeShuffleDriverComponents.class);

  /** The application's identity on the servers. */
  public record Application(String appId, String token) {}

  private final SparkConf sparkConf;
  private final NodeShuffleConf conf;
  private final Map<Integer, Set<String>> serversByShuffle = new ConcurrentHashMap<>();
  private final Set<String> knownServers = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean listening = new AtomicBoolean();
  private final ExecutorService background =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "node-shuffle-control");
            t.setDaemon(true);
            return t;
          });
  private final ScheduledExecutorService moves =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "node-shuffle-moves");
            t.setDaemon(true);
            return t;
          });
  private final MoveFollower moveFollower;
  private final ReplicaFollower replicaFollower;
  // Servers learned from map statuses, by control address: their data addresses are exact.
  private final Map<String, ServerAddress> learnedServers = new ConcurrentHashMap<>();
  private volatile Application application;

  public NodeShuffleDriverComponents(SparkConf sparkConf) {
    this.sparkConf = sparkConf;
    this.conf = NodeShuffleConf.from(sparkConf);
    this.moveFollower =
        new MoveFollower(
            conf.controlTimeoutMs(),
            conf.nativeOptions().tlsArray(),
            (shuffleId, server) -> {
              serversByShuffle.computeIfAbsent(shuffleId, id -> ConcurrentHashMap.newKeySet())
                  .add(server);
              knownServers.add(server);
            });
    this.replicaFollower =
        new ReplicaFollower(conf.controlTimeoutMs(), conf.nativeOptions());
  }

  /** The TLS files of the control-plane calls, as the native side reads them. */
  private String[] tls() {
    return conf.nativeOptions().tlsArray();
  }

  @Override
  public Map<String, String> initializeApplication() {
    NativeLibrary.ensureLoaded(conf.nativeLibrary());
    String appId = conf.appId().isEmpty() ? sparkConf.getAppId() : conf.appId();
    String identity = identityToken();
    List<String> servers = ControlServers.resolve(conf.servers(), System.getenv());
    List<String> failures = new ArrayList<>();
    for (String server : servers) {
      try {
        String token =
            NativeControl.registerApplication(
                server, conf.controlTimeoutMs(), tls(), appId, conf.namespace(), identity);
        application = new Application(appId, token);
        knownServers.add(server);
        LOG.info(
            "registered application {} (namespace {}) with the shuffle server at {}",
            appId,
            conf.namespace(),
            server);
        return Map.of("appId", appId);
      } catch (ShuffleServiceException e) {
        failures.add(e.getMessage());
      }
    }
    throw new IllegalStateException(
        "could not register application " + appId + " with any node shuffle server of "
            + servers + " (" + NodeShuffleConf.SERVERS + "): " + String.join("; ", failures));
  }

  private String identityToken() {
    String file = conf.identityTokenFile();
    if (file.isEmpty()) {
      file = Files.isReadable(Path.of(NodeShuffleConf.POD_TOKEN)) ? NodeShuffleConf.POD_TOKEN : "";
    }
    if (file.isEmpty()) {
      return "";
    }
    try {
      return Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new IllegalArgumentException(
          NodeShuffleConf.IDENTITY_TOKEN_FILE + "=" + file + ": cannot read it: " + e, e);
    }
  }

  /** The application's identity; REQUIRES initializeApplication() succeeded. */
  public Application application() {
    Application app = application;
    if (app == null) {
      throw new IllegalStateException("the node shuffle driver components were not initialized");
    }
    return app;
  }

  /** Starts following map stages and the servers' hand-overs (once per application). */
  public void listenTo(SparkContext sc) {
    if (listening.compareAndSet(false, true)) {
      sc.addSparkListener(new MapStageListener(this));
      long interval = conf.movesPollIntervalMs();
      if (interval > 0) {
        moves.scheduleWithFixedDelay(this::pollMoves, interval, interval, TimeUnit.MILLISECONDS);
      }
    }
  }

  private void pollMoves() {
    Application app = application;
    if (app == null) {
      return;
    }
    Set<String> lost = Set.of();
    try {
      if (conf.replicas() > 1) {
        lost = replicaFollower.poll(app);
      }
    } catch (RuntimeException e) { // never let the schedule die
      LOG.warn("failing over to replicas failed this round: {}", e.toString());
    }
    try {
      List<String> servers = new ArrayList<>(knownServers);
      servers.removeAll(lost); // a lost server cannot answer: asking would wait its timeout
      moveFollower.poll(servers, app);
    } catch (RuntimeException e) { // never let the schedule die
      LOG.warn("following the shuffle servers' hand-overs failed this round: {}", e.toString());
    }
  }

  /** How many map outputs were re-pointed to their replicas because their server was lost. */
  public long replicasApplied() {
    return replicaFollower.repointed();
  }

  /** A shuffle registered with Spark: its reduce partitions, for checking replicas. */
  public void shuffleRegistered(int shuffleId, int numPartitions) {
    replicaFollower.shuffleRegistered(shuffleId, numPartitions);
  }

  /** A server that holds map output, as its status names it (exact data address). */
  void learnServer(ServerAddress server) {
    learnedServers.put(server.control(), server);
  }

  /**
   * The servers the second copies of a shuffle registered now go to: those learned from map
   * statuses, and the configured ones (spark.nodeshuffle.servers; data plane at
   * spark.nodeshuffle.dataPort unless an entry names it), less the servers found lost.
   */
  public List<ServerAddress> replicaServers() {
    Map<String, ServerAddress> byControl = new java.util.LinkedHashMap<>();
    for (ServerAddress s :
        ControlServers.resolveServers(conf.servers(), System.getenv(), conf.dataPort())) {
      byControl.put(s.control(), s);
    }
    byControl.putAll(learnedServers);
    List<ServerAddress> out = new ArrayList<>();
    for (ServerAddress s : byControl.values()) {
      if (!replicaFollower.isLost(s.control())) {
        out.add(s);
      }
    }
    return out;
  }

  /** How many map outputs were re-pointed to the servers they were handed over to. */
  public long movesApplied() {
    return moveFollower.movesApplied();
  }

  /** The servers that hold (some of) a shuffle's map output; seals the shuffle there. */
  void mapStageDone(int shuffleId, Collection<String> controlAddresses) {
    serversByShuffle.computeIfAbsent(shuffleId, id -> ConcurrentHashMap.newKeySet())
        .addAll(controlAddresses);
    knownServers.addAll(controlAddresses);
    Application app = application();
    for (String server : controlAddresses) {
      if (background.isShutdown()) {
        return;
      }
      background.execute(
          () -> {
            try {
              NativeControl.sealShuffle(
                  server, conf.controlTimeoutMs(), tls(), app.appId(), app.token(), shuffleId);
            } catch (ShuffleServiceException e) {
              LOG.warn("sealing shuffle {} on {} failed (reads still work): {}", shuffleId, server,
                  e.getMessage());
            }
          });
    }
  }

  @Override
  public void registerShuffle(int shuffleId) {
    serversByShuffle.computeIfAbsent(shuffleId, id -> ConcurrentHashMap.newKeySet());
  }

  @Override
  public void removeShuffle(int shuffleId, boolean blocking) {
    Set<String> servers = serversByShuffle.remove(shuffleId);
    List<String> targets = new ArrayList<>(servers == null ? Set.of() : servers);
    for (String s : ControlServers.resolve(conf.servers(), System.getenv())) {
      if (!targets.contains(s)) {
        targets.add(s);
      }
    }
    Application app = application;
    if (app == null) {
      return;
    }
    Runnable remove =
        () -> {
          for (String server : targets) {
            try {
              long freed =
                  NativeControl.removeShuffle(
                      server, conf.controlTimeoutMs(), tls(), app.appId(), app.token(), shuffleId);
              LOG.debug("removed shuffle {} from {} ({} bytes)", shuffleId, server, freed);
            } catch (ShuffleServiceException e) {
              if (e.code() != ShuffleServiceException.NOT_FOUND) {
                LOG.warn("removing shuffle {} from {} failed (the server's idle-application"
                    + " cleanup will remove it): {}", shuffleId, server, e.getMessage());
              }
            }
          }
        };
    if (blocking || background.isShutdown()) {
      remove.run();
    } else {
      background.execute(remove);
    }
  }

  @Override
  public void cleanupApplication() {
    Application app = application;
    if (app == null) {
      return;
    }
    background.shutdown();
    moves.shutdownNow();
    try {
      background.awaitTermination(conf.controlTimeoutMs(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Set<String> servers = new java.util.LinkedHashSet<>(knownServers);
    servers.addAll(ControlServers.resolve(conf.servers(), System.getenv()));
    for (String server : servers) {
      try {
        long freed =
            NativeControl.removeApplication(server, conf.controlTimeoutMs(), tls(), app.appId(),
                app.token());
        LOG.info("removed application {} from the shuffle server at {} ({} bytes freed)",
            app.appId(), server, freed);
      } catch (ShuffleServiceException e) {
        LOG.warn("removing application {} from {} failed (the server's idle-application cleanup"
            + " will remove it): {}", app.appId(), server, e.getMessage());
      }
    }
  }

  @Override
  public boolean supportsReliableStorage() {
    return true;
  }
}
