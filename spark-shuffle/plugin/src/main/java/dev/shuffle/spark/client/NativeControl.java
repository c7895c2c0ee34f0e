package dev.shuffle.spark.client;

/**
 * The driver's calls to one shuffle server's control plane ("host:port"). Each waits up to
 * {@code timeoutMs}, also for a server that is restarting; failures are {@link
 * ShuffleServiceException}s naming the server. Thread-safe.
 */
public final class NativeControl {
  private NativeControl() {}

  /** Registers the application and returns its token ("" on a server without secrets). */
  public static native String registerApplication(
      String address, long timeoutMs, String appId, String namespace, String identityToken);

  public static native void sealShuffle(
      String address, long timeoutMs, String appId, String token, int shuffleId);

  /** Returns the bytes freed. */
  public static native long removeShuffle(
      String address, long timeoutMs, String appId, String token, int shuffleId);

  /** Returns the bytes freed. */
  public static native long removeApplication(
      String address, long timeoutMs, String appId, String token);
}
