package dev.shuffle.spark.client;

import java.nio.ByteBuffer;

/**
 * Partitions [begin, end) of the listed maps, fetched through the client library from the
 * servers that hold them and handed out block by block, each verified and delivered exactly
 * once. A server that lacks a listed attempt, or stays unreachable through the retries, fails
 * the reader with a {@link ShuffleServiceException} naming it. Not thread-safe: one reader per
 * reduce task.
 */
public final class NativeReader extends NativeHandle {
  private NativeReader(long handle) {
    super(handle);
  }

  /**
   * @param addresses the data-plane address of the server holding each map
   * @param mapIds the maps (Spark's map indexes)
   * @param attempts the attempt of each map to read
   */
  public static NativeReader open(
      String appId,
      String token,
      int shuffleId,
      int numPartitions,
      int partitionBegin,
      int partitionEnd,
      String[] addresses,
      int[] mapIds,
      int[] attempts,
      NativeOptions options) {
    return new NativeReader(
        open(
            appId,
            token,
            shuffleId,
            numPartitions,
            partitionBegin,
            partitionEnd,
            addresses,
            mapIds,
            attempts,
            options.toArray(),
            options.tlsArray()));
  }

  /**
   * The next block's record bytes, valid until the next call; null at the end. Waits at most
   * {@code waitMs}: then an empty buffer is returned and the caller may check for cancellation
   * and call again.
   */
  public ByteBuffer nextBlock(long waitMs) {
    return nextBlock(live(), waitMs);
  }

  /** {blocks, encoded bytes received, records, retries}. */
  public long[] stats() {
    return stats(live());
  }

  @Override
  String kind() {
    return "reader";
  }

  @Override
  void release(long handle) {
    close(handle);
  }

  private static native long open(
      String appId,
      String token,
      int shuffleId,
      int numPartitions,
      int partitionBegin,
      int partitionEnd,
      String[] addresses,
      int[] mapIds,
      int[] attempts,
      long[] options,
      String[] tls);

  private static native ByteBuffer nextBlock(long handle, long waitMs);

  private static native long[] stats(long handle);

  private static native void close(long handle);
}
