package dev.shuffle.spark;

import dev.shuffle.spark.client.NativeOptions;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.SparkConf;

/**
 * The plugin's settings, every key under {@value #PREFIX}, each with a default; read once from
 * the SparkConf and checked, so that a bad value fails at start with a message naming the key and
 * what it takes. A plain value; thread-safe.
 */
public final class NodeShuffleConf implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final String PREFIX = "spark.nodeshuffle.";

  /** Control planes the driver registers the application with and cleans up on (list). */
  public static final String SERVERS = PREFIX + "servers";
  /** This process's server: "host:port" or "unix:/path"; empty: discovered from the node. */
  public static final String SERVER = PREFIX + "server";
  public static final String NAMESPACE = PREFIX + "namespace";
  public static final String IDENTITY_TOKEN_FILE = PREFIX + "identityTokenFile";
  public static final String APP_ID = PREFIX + "appId";
  public static final String NATIVE_LIBRARY = PREFIX + "nativeLibrary";
  public static final String BLOCK_SIZE = PREFIX + "writer.blockSize";
  public static final String BUFFER_SIZE = PREFIX + "writer.bufferSize";
  public static final String COMPRESSION_CODEC = PREFIX + "compressionCodec";
  public static final String COMPRESSION_LEVEL = PREFIX + "compressionLevel";
  public static final String MAX_BYTES_IN_FLIGHT = PREFIX + "reader.maxBytesInFlight";
  public static final String MAX_PARALLEL_SERVERS = PREFIX + "reader.maxParallelServers";
  public static final String CONNECT_TIMEOUT = PREFIX + "connectTimeout";
  public static final String IO_TIMEOUT = PREFIX + "ioTimeout";
  public static final String MAX_RETRIES = PREFIX + "maxRetries";
  public static final String RETRY_WAIT = PREFIX + "retryWait";
  public static final String RETRY_MAX_WAIT = PREFIX + "retryMaxWait";
  public static final String CONTROL_TIMEOUT = PREFIX + "controlTimeout";
  /** TLS to the servers' data planes over TCP (the node's Unix socket stays plaintext). */
  public static final String TLS_CA_FILE = PREFIX + "tls.caFile";
  public static final String TLS_CERT_FILE = PREFIX + "tls.certFile";
  public static final String TLS_KEY_FILE = PREFIX + "tls.keyFile";
  public static final String TLS_SERVER_NAME = PREFIX + "tls.serverName";
  /** How often the driver asks servers for outputs they handed over; 0: never. */
  public static final String MOVES_POLL_INTERVAL = PREFIX + "moves.pollInterval";
  /** Copies of each map output: 1, or 2 (a second copy on another node's server). */
  public static final String REPLICAS = PREFIX + "replicas";
  /** The data port of servers named by their control plane only (the DaemonSet's hostPort). */
  public static final String DATA_PORT = PREFIX + "dataPort";

  /** The service account token a pod carries, presented to the servers on Kubernetes. */
  public static final String POD_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

  /** Every key with its default and meaning, for docs/spark.md and error messages. */
  public static final Map<String, String> DEFAULTS =
      Map.ofEntries(
          Map.entry(SERVERS, ""),
          Map.entry(SERVER, ""),
          Map.entry(NAMESPACE, ""),
          Map.entry(IDENTITY_TOKEN_FILE, ""),
          Map.entry(APP_ID, ""),
          Map.entry(NATIVE_LIBRARY, ""),
          Map.entry(BLOCK_SIZE, "64k"),
          Map.entry(BUFFER_SIZE, "32m"),
          Map.entry(COMPRESSION_CODEC, "lz4"),
          Map.entry(COMPRESSION_LEVEL, "1"),
          Map.entry(MAX_BYTES_IN_FLIGHT, "48m"),
          Map.entry(MAX_PARALLEL_SERVERS, "8"),
          Map.entry(CONNECT_TIMEOUT, "5s"),
          Map.entry(IO_TIMEOUT, "60s"),
          Map.entry(MAX_RETRIES, "10"),
          Map.entry(RETRY_WAIT, "100ms"),
          Map.entry(RETRY_MAX_WAIT, "4s"),
          Map.entry(CONTROL_TIMEOUT, "20s"),
          Map.entry(MOVES_POLL_INTERVAL, "2s"),
          Map.entry(REPLICAS, "1"),
          Map.entry(DATA_PORT, "7340"));

  /** The level with zstd when none is set: `zstd --fast=3`, chosen with bench/spark/run. */
  public static final int ZSTD_DEFAULT_LEVEL = -3;

  /** The largest block the service takes (core::kMaxBlockSize): a record must fit in one. */
  public static final long MAX_BLOCK_BYTES = 64L << 20;

  private final List<String> servers;
  private final String server;
  private final String namespace;
  private final String identityTokenFile;
  private final String appId;
  private final String nativeLibrary;
  private final int blockSize;
  private final long bufferSize;
  private final int compressionCodec;
  private final int compressionLevel;
  private final long maxBytesInFlight;
  private final int maxParallelServers;
  private final long connectTimeoutMs;
  private final long ioTimeoutMs;
  private final int maxRetries;
  private final long retryWaitMs;
  private final long retryMaxWaitMs;
  private final long controlTimeoutMs;
  private final long movesPollIntervalMs;
  private final int replicas;
  private final int dataPort;
  private final String tlsCaFile;
  private final String tlsCertFile;
  private final String tlsKeyFile;
  private final String tlsServerName;

  private NodeShuffleConf(SparkConf conf) {
    servers = list(conf.get(SERVERS, ""));
    server = conf.get(SERVER, "").trim();
    namespace = conf.get(NAMESPACE, conf.get("spark.kubernetes.namespace", "default")).trim();
    identityTokenFile = conf.get(IDENTITY_TOKEN_FILE, "").trim();
    appId = conf.get(APP_ID, "").trim();
    nativeLibrary = conf.get(NATIVE_LIBRARY, "").trim();
    blockSize = (int) bytes(conf, BLOCK_SIZE, 1024, 16L << 20);
    bufferSize = bytes(conf, BUFFER_SIZE, 1L << 20, 1L << 40);
    compressionCodec = codec(conf);
    compressionLevel = compressionLevel(conf, compressionCodec);
    maxBytesInFlight = bytes(conf, MAX_BYTES_IN_FLIGHT, 1L << 20, 1L << 40);
    maxParallelServers = (int) whole(conf, MAX_PARALLEL_SERVERS, 1, 1024);
    connectTimeoutMs = millis(conf, CONNECT_TIMEOUT, 1, 3_600_000);
    ioTimeoutMs = millis(conf, IO_TIMEOUT, 1, 3_600_000);
    maxRetries = (int) whole(conf, MAX_RETRIES, 0, 1000);
    retryWaitMs = millis(conf, RETRY_WAIT, 1, 600_000);
    retryMaxWaitMs = millis(conf, RETRY_MAX_WAIT, 1, 600_000);
    controlTimeoutMs = millis(conf, CONTROL_TIMEOUT, 1, 3_600_000);
    movesPollIntervalMs = millis(conf, MOVES_POLL_INTERVAL, 0, 3_600_000);
    replicas = replicas(conf);
    dataPort = (int) whole(conf, DATA_PORT, 1, 65535);
    tlsCaFile = conf.get(TLS_CA_FILE, "").trim();
    tlsCertFile = conf.get(TLS_CERT_FILE, "").trim();
    tlsKeyFile = conf.get(TLS_KEY_FILE, "").trim();
    tlsServerName = conf.get(TLS_SERVER_NAME, "").trim();
    if (tlsCertFile.isEmpty() != tlsKeyFile.isEmpty()) {
      throw new IllegalArgumentException(
          TLS_CERT_FILE + " and " + TLS_KEY_FILE + " (mutual TLS) go together: set both or neither");
    }
    if (!tlsCertFile.isEmpty() && tlsCaFile.isEmpty()) {
      throw new IllegalArgumentException(
          TLS_CERT_FILE + " needs " + TLS_CA_FILE + ", the CA that checks the servers");
    }
    if (retryMaxWaitMs < retryWaitMs) {
      throw new IllegalArgumentException(
          RETRY_MAX_WAIT + " (" + retryMaxWaitMs + " ms) must not be shorter than " + RETRY_WAIT
              + " (" + retryWaitMs + " ms)");
    }
    if (namespace.isEmpty()) {
      throw new IllegalArgumentException(NAMESPACE + " must not be empty");
    }
    if (conf.getBoolean("spark.io.encryption.enabled", false)) {
      throw new IllegalArgumentException(
          "spark.io.encryption.enabled=true is not supported by the node shuffle service yet "
              + "(its blocks are checksummed, not encrypted): turn it off or use Spark's built-in"
              + " shuffle");
    }
  }

  /**
   * Reads and checks the settings.
   *
   * @throws IllegalArgumentException naming the key and what it takes, for a bad value
   */
  public static NodeShuffleConf from(SparkConf conf) {
    return new NodeShuffleConf(conf);
  }

  private static List<String> list(String value) {
    List<String> out = new ArrayList<>();
    for (String part : value.split(",")) {
      if (!part.isBlank()) {
        out.add(part.trim());
      }
    }
    return List.copyOf(out);
  }

  private static int replicas(SparkConf conf) {
    String value = conf.get(REPLICAS, DEFAULTS.get(REPLICAS)).trim();
    if (!value.equals("1") && !value.equals("2")) {
      throw new IllegalArgumentException(
          REPLICAS + "=" + value + ": expected 1 (one copy of each map output, on its node's"
              + " server) or 2 (a second copy on another node's server, so that an abrupt node"
              + " loss re-runs no map)");
    }
    return Integer.parseInt(value);
  }

  private static long bytes(SparkConf conf, String key, long min, long max) {
    String value = conf.get(key, DEFAULTS.get(key));
    long v;
    try {
      v = conf.getSizeAsBytes(key, DEFAULTS.get(key));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected a size such as 256k, 32m or 1g", e);
    }
    if (v < min || v > max) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected a size from " + min + " to " + max + " bytes");
    }
    return v;
  }

  private static long whole(SparkConf conf, String key, long min, long max) {
    String value = conf.get(key, DEFAULTS.get(key)).trim();
    long v;
    try {
      v = Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected a whole number from " + min + " to " + max, e);
    }
    if (v < min || v > max) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected a whole number from " + min + " to " + max);
    }
    return v;
  }

  /** The blocks' codec, as the C ABI numbers it (SHUFFLE_CODEC_*). */
  private static int codec(SparkConf conf) {
    String value = conf.get(COMPRESSION_CODEC, DEFAULTS.get(COMPRESSION_CODEC)).trim();
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "none" -> NativeOptions.CODEC_NONE;
      case "zstd" -> NativeOptions.CODEC_ZSTD;
      case "lz4" -> NativeOptions.CODEC_LZ4;
      default ->
          throw new IllegalArgumentException(
              COMPRESSION_CODEC + "=" + value + ": expected zstd, lz4 or none");
    };
  }

  /**
   * LZ4's levels are 1 (its default, the default here) or -1 to -10 (its acceleration); zstd's run
   * from -10 (its fast levels) to 19, with {@link #ZSTD_DEFAULT_LEVEL} by default; 0 stores
   * blocks uncompressed.
   */
  private static int compressionLevel(SparkConf conf, int codec) {
    if (codec == NativeOptions.CODEC_LZ4) {
      return (int) whole(conf, COMPRESSION_LEVEL, -10, 1);
    }
    if (!conf.contains(COMPRESSION_LEVEL)) {
      return ZSTD_DEFAULT_LEVEL;
    }
    return (int) whole(conf, COMPRESSION_LEVEL, -10, 19);
  }

  private static long millis(SparkConf conf, String key, long min, long max) {
    String value = conf.get(key, DEFAULTS.get(key));
    long v;
    try {
      v = conf.getTimeAsMs(key, DEFAULTS.get(key));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected a duration such as 500ms, 20s or 2min", e);
    }
    if (v < min || v > max) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected a duration from " + min + " ms to " + max + " ms");
    }
    return v;
  }

  /**
   * The client library's options. Writers register the shuffle on their server (the driver
   * does not know every node's), and wait for a server that is restarting: Spark retries a
   * failed task only a few times, at once.
   */
  public NativeOptions nativeOptions() {
    return new NativeOptions(
        compressionLevel,
        maxBytesInFlight,
        maxParallelServers,
        connectTimeoutMs,
        ioTimeoutMs,
        maxRetries,
        retryWaitMs,
        retryMaxWaitMs,
        /* registerShuffleOnPush= */ true,
        /* writerWaitsForServer= */ true,
        compressionCodec,
        tlsCaFile,
        tlsCertFile,
        tlsKeyFile,
        tlsServerName);
  }

  public List<String> servers() {
    return servers;
  }

  public String server() {
    return server;
  }

  public String namespace() {
    return namespace;
  }

  public String identityTokenFile() {
    return identityTokenFile;
  }

  public String appId() {
    return appId;
  }

  public String nativeLibrary() {
    return nativeLibrary;
  }

  public int blockSize() {
    return blockSize;
  }

  public long bufferSize() {
    return bufferSize;
  }

  public long controlTimeoutMs() {
    return controlTimeoutMs;
  }

  public long movesPollIntervalMs() {
    return movesPollIntervalMs;
  }

  /** Copies of each map output: 1 or 2. */
  public int replicas() {
    return replicas;
  }

  /** The data port of a server named by its control plane's host only. */
  public int dataPort() {
    return dataPort;
  }
}
