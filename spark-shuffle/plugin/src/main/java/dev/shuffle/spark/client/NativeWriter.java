package dev.shuffle.spark.client;

/**
 * The output of one map attempt, written through the client library to the node-local shuffle
 * server: blocks of serialized records are compressed, checksummed and pushed; {@link #commit()}
 * returns once the server made the attempt durable. Closing without a commit leaves nothing that
 * will ever be served. Not thread-safe: one writer per map task.
 */
public final class NativeWriter extends NativeHandle {
  /**
   * What a commit returned: where the output lives and its per-partition sizes, and with a
   * replica, the second copy's place (the replica fields are "" with one copy).
   */
  public record CommitResult(
      boolean won,
      String node,
      String address,
      String controlAddress,
      int attempt,
      long[] partitionBytes,
      String replicaNode,
      String replicaAddress,
      String replicaControlAddress,
      int replicaAttempt) {
    public boolean hasReplica() {
      return !replicaAddress.isEmpty();
    }
  }

  private NativeWriter(long handle) {
    super(handle);
  }

  /**
   * Connects to {@code server} ("host:port", "unix:/path", or "" to discover the node-local
   * server from the environment) and, when {@code replica} is not "", to that server (another
   * node's data address): every block goes to both, and the commit succeeds only once both hold
   * the output. A failure names the server it came from ({@link ShuffleServiceException#server}).
   */
  public static NativeWriter open(
      String server,
      String replica,
      String appId,
      String token,
      int shuffleId,
      int numPartitions,
      int mapId,
      int attempt,
      NativeOptions options) {
    return new NativeWriter(
        open(
            server,
            appId,
            token,
            shuffleId,
            numPartitions,
            mapId,
            attempt,
            replica,
            options.toArray(),
            options.tlsArray()));
  }

  /** Appends one block: {@code length} bytes holding {@code records} serialized records. */
  public void writeBlock(int partition, byte[] data, int offset, int length, int records) {
    writeBlock(live(), partition, data, offset, length, records);
  }

  /** Encoded bytes of the blocks made so far (compressed, block headers included). */
  public long encodedBytes() {
    return encodedBytes(live());
  }

  public CommitResult commit() {
    return commit(live());
  }

  @Override
  String kind() {
    return "writer";
  }

  @Override
  void release(long handle) {
    close(handle);
  }

  private static native long open(
      String server,
      String appId,
      String token,
      int shuffleId,
      int numPartitions,
      int mapId,
      int attempt,
      String replica,
      long[] options,
      String[] tls);

  private static native void writeBlock(
      long handle, int partition, byte[] data, int offset, int length, int records);

  private static native long encodedBytes(long handle);

  private static native CommitResult commit(long handle);

  private static native void close(long handle);
}
