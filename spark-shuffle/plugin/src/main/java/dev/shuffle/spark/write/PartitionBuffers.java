package dev.shuffle.spark.write;

import dev.shuffle.spark.rows.SqlRows;
import java.io.OutputStream;
import java.util.Arrays;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;

/**
 * Serialized records of a map task, buffered per partition until they make a block. It is also
 * the output stream the task's one serialization stream writes into: {@link #select} routes the
 * next record's bytes to its partition, {@link #endRecord} closes the record and hands the
 * partition's buffer to the sink once it holds a block's worth. When the buffers together hold
 * more than the budget, the largest are handed over early (and released), so memory stays
 * bounded whatever the number of partitions. A record is never split across blocks.
 *
 * <p>Only for serializers whose records can be concatenated (Spark's
 * supportsRelocationOfSerializedObjects). Not thread-safe: one per map task.
 */
final class PartitionBuffers extends OutputStream {
  private static final int INITIAL_CAPACITY = 4096;

  private final BlockSink sink;
  private final int blockSize;
  private final long budget;
  private final byte[][] buffers;
  private final int[] sizes;
  private final int[] records;
  private long held; // capacity of the buffers allocated now
  private int current = -1;

  PartitionBuffers(int numPartitions, int blockSize, long budget, BlockSink sink) {
    this.sink = sink;
    this.blockSize = blockSize;
    this.budget = budget;
    this.buffers = new byte[numPartitions][];
    this.sizes = new int[numPartitions];
    this.records = new int[numPartitions];
  }

  /** The next bytes written belong to a record of {@code partition}. */
  void select(int partition) {
    current = partition;
  }

  /** The current record is complete (its serialization stream was flushed). */
  void endRecord() {
    int p = current;
    records[p]++;
    if (sizes[p] >= blockSize) {
      emit(p, /* release= */ false);
    }
    if (held > budget) {
      relieve();
    }
  }

  /** Hands every partition's remaining records to the sink. */
  void flushAll() {
    for (int p = 0; p < buffers.length; p++) {
      if (sizes[p] > 0) {
        emit(p, /* release= */ true);
      }
    }
  }

  /**
   * Appends one Spark SQL row to {@code partition} as Spark's UnsafeRowSerializer would write it
   * (SqlRows), as a whole record; returns the row's own size in bytes.
   */
  int writeRow(int partition, UnsafeRow row) {
    current = partition;
    int size = SqlRows.encodedSize(row);
    ensure(partition, size);
    sizes[partition] = SqlRows.write(row, buffers[partition], sizes[partition]);
    endRecord();
    return size - 4;
  }

  @Override
  public void write(int b) {
    ensure(current, 1);
    buffers[current][sizes[current]++] = (byte) b;
  }

  @Override
  public void write(byte[] b, int off, int len) {
    ensure(current, len);
    System.arraycopy(b, off, buffers[current], sizes[current], len);
    sizes[current] += len;
  }

  private void ensure(int p, int more) {
    byte[] buf = buffers[p];
    long need = (long) sizes[p] + more;
    if (buf != null && need <= buf.length) {
      return;
    }
    if (need > Integer.MAX_VALUE - 16) {
      throw new IllegalStateException(
          "a record of partition " + p + " grew past 2 GiB; the service takes blocks of at most"
              + " 64 MiB");
    }
    int capacity = buf == null ? INITIAL_CAPACITY : buf.length;
    while (capacity < need) {
      capacity = (int) Math.min((long) capacity * 2, Integer.MAX_VALUE - 16);
    }
    held += capacity - (buf == null ? 0 : buf.length);
    buffers[p] = buf == null ? new byte[capacity] : Arrays.copyOf(buf, capacity);
  }

  private void emit(int p, boolean release) {
    sink.block(p, buffers[p], sizes[p], records[p]);
    sizes[p] = 0;
    records[p] = 0;
    if (release) {
      held -= buffers[p].length;
      buffers[p] = null;
    }
  }

  // Hands over the largest buffers (releasing them) until half the budget is held.
  private void relieve() {
    while (held > budget / 2) {
      int largest = -1;
      for (int p = 0; p < buffers.length; p++) {
        if (buffers[p] != null && (largest < 0 || buffers[p].length > buffers[largest].length)) {
          largest = p;
        }
      }
      if (largest < 0) {
        return;
      }
      if (sizes[largest] > 0) {
        emit(largest, /* release= */ true);
      } else {
        held -= buffers[largest].length;
        buffers[largest] = null;
      }
    }
  }
}
