package dev.shuffle.spark.rows;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import org.apache.spark.serializer.Serializer;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.util.AccumulatorV2;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;
import scala.collection.AbstractIterator;
import scala.collection.Iterator;

/**
 * Spark SQL's shuffle records, written and read without the serializer's streams. Spark SQL
 * shuffles UnsafeRows with its UnsafeRowSerializer, whose stream holds each record as a 4-byte
 * big-endian length followed by the row's bytes (the key is not written). Going through that
 * stream costs a buffered stream's copy and a flush per record on the map side, and a buffered
 * stream's copy per record on the reduce side; here a row's bytes are copied once, straight
 * between the row and the block. The bytes are exactly what the serializer writes, so either
 * side may use the stream instead.
 *
 * <p>The serializer's row width and its "data size" metric (the exchange's metric in the SQL
 * UI) are private fields of UnsafeRowSerializer, read once by reflection; when they cannot be
 * read (a Spark that renamed them), {@link #of} is empty and the serializer's streams are used.
 * Thread-safe (immutable); the iterators it makes are not.
 */
public final class SqlRows {
  private static final Logger LOG = LoggerFactory.getLogger(SqlRows.class);
  private static final String SERIALIZER = "org.apache.spark.sql.execution.UnsafeRowSerializer";
  private static final ClassValue<Optional<Fields>> FIELDS =
      new ClassValue<>() {
        @Override
        protected Optional<Fields> computeValue(Class<?> type) {
          return Fields.find(type);
        }
      };

  private final int numFields;
  private final AccumulatorV2<Object, Object> dataSize; // null when the plan has no such metric

  private SqlRows(int numFields, AccumulatorV2<Object, Object> dataSize) {
    this.numFields = numFields;
    this.dataSize = dataSize;
  }

  /** The fast path for {@code serializer}, or empty when it is not Spark SQL's row serializer. */
  public static Optional<SqlRows> of(Serializer serializer) {
    if (!serializer.getClass().getName().equals(SERIALIZER)) {
      return Optional.empty();
    }
    Optional<Fields> fields = FIELDS.get(serializer.getClass());
    if (fields.isEmpty()) {
      return Optional.empty();
    }
    try {
      @SuppressWarnings("unchecked")
      AccumulatorV2<Object, Object> metric =
          (AccumulatorV2<Object, Object>) fields.get().dataSize().get(serializer);
      return Optional.of(new SqlRows(fields.get().numFields().getInt(serializer), metric));
    } catch (IllegalAccessException | ClassCastException e) {
      return Optional.empty();
    }
  }

  /** The bytes a row takes in a block: its length prefix and its own bytes. */
  public static int encodedSize(UnsafeRow row) {
    return 4 + row.getSizeInBytes();
  }

  /**
   * Writes {@code row} as the serializer does at {@code offset} of {@code target}, which has
   * room for {@link #encodedSize}; returns the offset after it.
   */
  public static int write(UnsafeRow row, byte[] target, int offset) {
    int size = row.getSizeInBytes();
    target[offset] = (byte) (size >>> 24);
    target[offset + 1] = (byte) (size >>> 16);
    target[offset + 2] = (byte) (size >>> 8);
    target[offset + 3] = (byte) size;
    Platform.copyMemory(
        row.getBaseObject(),
        row.getBaseOffset(),
        target,
        Platform.BYTE_ARRAY_OFFSET + offset + 4,
        size);
    return offset + 4 + size;
  }

  /** Adds the rows' bytes written (without their length prefixes) to the "data size" metric. */
  public void addDataSize(long rowBytes) {
    if (dataSize != null) {
      dataSize.add(rowBytes);
    }
  }

  /**
   * The records of one block as the serializer's key-value iterator returns them: (0, row),
   * with one row and one tuple reused from record to record, as Spark's own does (callers copy
   * a row they keep). The block must stay valid while the iterator is used.
   */
  public Iterator<Tuple2<Object, Object>> records(ByteBuffer block) {
    return new Records(block.duplicate().order(ByteOrder.BIG_ENDIAN), numFields);
  }

  private static final class Records extends AbstractIterator<Tuple2<Object, Object>> {
    private final ByteBuffer block;
    private final UnsafeRow row;
    private final Tuple2<Object, Object> tuple;
    private byte[] buffer = new byte[256];

    Records(ByteBuffer block, int numFields) {
      this.block = block;
      this.row = new UnsafeRow(numFields);
      this.tuple = new Tuple2<>(0, row);
    }

    @Override
    public boolean hasNext() {
      return block.remaining() >= 4 && block.getInt(block.position()) >= 0;
    }

    @Override
    public Tuple2<Object, Object> next() {
      if (!hasNext()) {
        throw new java.util.NoSuchElementException();
      }
      int size = block.getInt();
      if (size > block.remaining()) {
        throw new IllegalStateException(
            "a Spark SQL row of " + size + " bytes runs past the end of its block ("
                + block.remaining() + " bytes left): the block is corrupt");
      }
      if (buffer.length < size) {
        buffer = new byte[Math.max(size, buffer.length * 2)];
      }
      block.get(buffer, 0, size);
      row.pointTo(buffer, Platform.BYTE_ARRAY_OFFSET, size);
      return tuple;
    }
  }

  // UnsafeRowSerializer's constructor fields, looked up once per class.
  private record Fields(Field numFields, Field dataSize) {
    static Optional<Fields> find(Class<?> serializer) {
      try {
        Field numFields = serializer.getDeclaredField("numFields");
        Field dataSize = serializer.getDeclaredField("dataSize");
        numFields.setAccessible(true);
        dataSize.setAccessible(true);
        return Optional.of(new Fields(numFields, dataSize));
      } catch (ReflectiveOperationException | RuntimeException e) {
        LOG.warn("Spark SQL's UnsafeRowSerializer has no numFields and dataSize fields ({}):"
            + " SQL rows go through its streams", e.toString());
        return Optional.empty();
      }
    }
  }
}
