package dev.shuffle.spark.client;

/**
 * The client library's tuning, as the native side reads it (a long[] whose order is fixed by
 * spark-shuffle/native/jni_util.h), and its TLS files (empty: plaintext; see {@link
 * #tlsArray()}). A plain value; thread-safe.
 */
public record NativeOptions(
    int compressionLevel,
    long maxBytesInFlight,
    int maxParallelServers,
    long connectTimeoutMs,
    long ioTimeoutMs,
    int maxRetries,
    long initialBackoffMs,
    long maxBackoffMs,
    boolean registerShuffleOnPush,
    boolean writerWaitsForServer,
    String tlsCaFile,
    String tlsCertFile,
    String tlsKeyFile,
    String tlsServerName) {

  /** The TLS settings in the order jni_util.h reads them: CA, certificate, key, server name. */
  public String[] tlsArray() {
    return new String[] {tlsCaFile, tlsCertFile, tlsKeyFile, tlsServerName};
  }

  long[] toArray() {
    return new long[] {
      compressionLevel,
      maxBytesInFlight,
      maxParallelServers,
      connectTimeoutMs,
      ioTimeoutMs,
      maxRetries,
      initialBackoffMs,
      maxBackoffMs,
      registerShuffleOnPush ? 1 : 0,
      writerWaitsForServer ? 1 : 0
    };
  }
}
