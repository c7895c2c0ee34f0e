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
    int compressionCodec,
    String tlsCaFile,
    String tlsCertFile,
    String tlsKeyFile,
    String tlsServerName) {

  /** The codecs as the C ABI numbers them (SHUFFLE_CODEC_* in shuffle_client_c.h). */
  public static final int CODEC_NONE = 0;

  public static final int CODEC_ZSTD = 1;
  public static final int CODEC_LZ4 = 2;

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
      writerWaitsForServer ? 1 : 0,
      compressionCodec
    };
  }
}
