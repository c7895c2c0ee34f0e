package dev.shuffle.spark.client;

/**
 * A failure reported by the shuffle client library: the status code (gRPC/absl numbering), its
 * message, and the server it concerns ("" when the failure was not one server's).
 */
public final class ShuffleServiceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public static final int NOT_FOUND = 5;
  public static final int RESOURCE_EXHAUSTED = 8;
  public static final int ABORTED = 10;
  public static final int INTERNAL = 13;
  public static final int UNAVAILABLE = 14;
  public static final int DATA_LOSS = 15;
  public static final int DEADLINE_EXCEEDED = 4;

  private final int code;
  private final String server;

  public ShuffleServiceException(int code, String message, String server) {
    super(message);
    this.code = code;
    this.server = server == null ? "" : server;
  }

  /** The status code (5 not found, 14 unavailable, 15 data loss, ...). */
  public int code() {
    return code;
  }

  /** The server whose data could not be had, or "" when the failure was not one server's. */
  public String server() {
    return server;
  }

  /**
   * Whether the failure means that server's data cannot be had (gone, unreachable after retries,
   * lost or corrupt there): the maps that lived there must run again.
   */
  public boolean serverDataUnavailable() {
    if (server.isEmpty()) {
      return false;
    }
    switch (code) {
      case NOT_FOUND:
      case UNAVAILABLE:
      case DEADLINE_EXCEEDED:
      case DATA_LOSS:
      case ABORTED:
      case RESOURCE_EXHAUSTED:
      case INTERNAL:
        return true;
      default:
        return false;
    }
  }
}
