package dev.shuffle.spark.client;

import java.util.ArrayList;
import java.util.List;

/**
 * The driver's calls to one shuffle server's control plane ("host:port"), through TLS when {@code
 * tls} ({@link NativeOptions#tlsArray()}) names a CA file. Each waits up to
 * {@code timeoutMs}, also for a server that is restarting; failures are {@link
 * ShuffleServiceException}s naming the server. Thread-safe.
 */
public final class NativeControl {
  private NativeControl() {}

  /** Registers the application and returns its token ("" on a server without secrets). */
  public static native String registerApplication(
      String address, long timeoutMs, String[] tls, String appId, String namespace, String identityToken);

  public static native void sealShuffle(
      String address, long timeoutMs, String[] tls, String appId, String token, int shuffleId);

  /** Returns the bytes freed. */
  public static native long removeShuffle(
      String address, long timeoutMs, String[] tls, String appId, String token, int shuffleId);

  /** Returns the bytes freed. */
  public static native long removeApplication(
      String address, long timeoutMs, String[] tls, String appId, String token);

  /**
   * Whether the server's control plane answers within {@code timeoutMs} (its gRPC health check,
   * serving or draining); a {@link ShuffleServiceException} with code UNAVAILABLE (refused: the
   * process is down) or DEADLINE_EXCEEDED (nothing answers) otherwise. Never waits for a server
   * that is restarting beyond {@code timeoutMs}.
   */
  public static native void probe(String address, long timeoutMs, String[] tls);

  /** One map output a server handed over: where it is now. */
  public record MovedOutput(
      int shuffleId, int mapIndex, int attempt, String node, String address,
      String controlAddress) {}

  /**
   * The application's map outputs the server handed over to peers before going away
   * (docs/node-loss.md). {@code done} is false while the hand-over still copies.
   */
  public record MovedOutputs(boolean done, List<MovedOutput> moved) {}

  public static MovedOutputs movedOutputs(
      String address, long timeoutMs, String[] tls, String appId, String token) {
    String[] fields = movedOutputs0(address, timeoutMs, tls, appId, token);
    List<MovedOutput> moved = new ArrayList<>();
    for (int i = 1; i + 5 < fields.length; i += 6) {
      moved.add(
          new MovedOutput(
              Integer.parseUnsignedInt(fields[i]),
              Integer.parseUnsignedInt(fields[i + 1]),
              Integer.parseUnsignedInt(fields[i + 2]),
              fields[i + 3],
              fields[i + 4],
              fields[i + 5]));
    }
    return new MovedOutputs("DONE".equals(fields[0]), moved);
  }

  // The state, then six fields per moved output (jni_control.cc).
  private static native String[] movedOutputs0(
      String address, long timeoutMs, String[] tls, String appId, String token);
}
