package dev.shuffle.spark.write;

import java.io.ByteArrayOutputStream;
import org.apache.spark.serializer.SerializationStream;
import org.apache.spark.serializer.Serializer;
import org.apache.spark.serializer.SerializerInstance;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * One block of records written as a complete serialization stream of its own (so any
 * serializer's blocks can be read back independently, whatever its stream headers). Reused from
 * block to block. Not thread-safe.
 */
final class BlockBuilder {
  /** Receives a finished block. */
  interface Target {
    void accept(byte[] data, int length, int records);
  }

  private static final ClassTag<Object> ANY = ClassTag$.MODULE$.Any();

  private final SerializerInstance serializer;
  private final Bytes bytes;
  private SerializationStream stream;
  private int records;
  private long totalRecords;

  BlockBuilder(Serializer serializer, int blockSize) {
    this.serializer = serializer.newInstance();
    this.bytes = new Bytes(blockSize + (blockSize >> 2));
  }

  void add(Object key, Object value) {
    if (stream == null) {
      stream = serializer.serializeStream(bytes);
    }
    stream.writeKey(key, ANY);
    stream.writeValue(value, ANY);
    records++;
  }

  /** Bytes written so far (the stream's buffered bytes are not counted until it flushes). */
  int size() {
    return bytes.size();
  }

  /** Closes the stream and hands its bytes to {@code target}; nothing when empty. */
  void finish(Target target) {
    if (stream == null) {
      return;
    }
    stream.close();
    stream = null;
    target.accept(bytes.array(), bytes.size(), records);
    totalRecords += records;
    records = 0;
    bytes.reset();
  }

  long totalRecords() {
    return totalRecords;
  }

  /** A ByteArrayOutputStream whose array is handed out without a copy; close() keeps it open. */
  private static final class Bytes extends ByteArrayOutputStream {
    Bytes(int capacity) {
      super(capacity);
    }

    byte[] array() {
      return buf;
    }

    @Override
    public void close() {}
  }
}
