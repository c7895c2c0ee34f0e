package dev.shuffle.spark.rows;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.serializer.JavaSerializer;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.serializer.SerializationStream;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.execution.UnsafeRowSerializer;
import org.apache.spark.sql.execution.metric.SQLMetric;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.unsafe.types.UTF8String;
import org.junit.jupiter.api.Test;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.reflect.ClassTag$;

class SqlRowsTest {
  private static final DataType[] TYPES = {DataTypes.LongType, DataTypes.StringType};

  // Rows of growing width (strings of 0 to ~3,000 bytes), so the reader's buffer grows too.
  private static List<UnsafeRow> rows() {
    UnsafeProjection projection = UnsafeProjection.create(TYPES);
    List<UnsafeRow> rows = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      InternalRow r =
          new GenericInternalRow(
              new Object[] {(long) i * 7919, UTF8String.fromString("v".repeat(i * i * 2))});
      rows.add(projection.apply(r).copy());
    }
    return rows;
  }

  @Test
  void writesWhatTheSerializersStreamWritesAndCountsTheSameDataSize() {
    SQLMetric streamed = new SQLMetric("size", 0L);
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    SerializationStream stream =
        new UnsafeRowSerializer(TYPES.length, streamed).newInstance().serializeStream(expected);
    for (UnsafeRow row : rows()) {
      stream.writeKey(0, ClassTag$.MODULE$.Any());
      stream.writeValue(row, ClassTag$.MODULE$.Any());
    }
    stream.close();

    SQLMetric direct = new SQLMetric("size", 0L);
    SqlRows sqlRows = SqlRows.of(new UnsafeRowSerializer(TYPES.length, direct)).orElseThrow();
    byte[] block = new byte[expected.size()];
    int at = 0;
    long rowBytes = 0;
    for (UnsafeRow row : rows()) {
      assertEquals(4 + row.getSizeInBytes(), SqlRows.encodedSize(row));
      at = SqlRows.write(row, block, at);
      rowBytes += row.getSizeInBytes();
    }
    sqlRows.addDataSize(rowBytes);
    assertEquals(block.length, at);
    assertArrayEquals(expected.toByteArray(), block);
    assertEquals(streamed.value(), direct.value());
  }

  @Test
  void readsBackEveryRowFromHeapAndDirectBuffers() {
    List<UnsafeRow> rows = rows();
    int total = rows.stream().mapToInt(SqlRows::encodedSize).sum();
    byte[] block = new byte[total];
    int at = 0;
    for (UnsafeRow row : rows) {
      at = SqlRows.write(row, block, at);
    }
    ByteBuffer direct = ByteBuffer.allocateDirect(total).put(block).flip();
    SqlRows sqlRows = SqlRows.of(new UnsafeRowSerializer(TYPES.length, null)).orElseThrow();
    sqlRows.addDataSize(10); // no metric: nothing to count, nothing fails
    for (ByteBuffer buffer : List.of(ByteBuffer.wrap(block), direct)) {
      Iterator<Tuple2<Object, Object>> it = sqlRows.records(buffer);
      for (UnsafeRow expected : rows) {
        assertTrue(it.hasNext());
        Tuple2<Object, Object> record = it.next();
        assertEquals(0, record._1());
        UnsafeRow row = (UnsafeRow) record._2();
        assertEquals(TYPES.length, row.numFields());
        assertEquals(expected, row);
        assertEquals(expected.getUTF8String(1), row.getUTF8String(1));
      }
      assertFalse(it.hasNext());
      assertThrows(java.util.NoSuchElementException.class, it::next);
    }
  }

  @Test
  void aTruncatedBlockIsReportedAsCorrupt() {
    UnsafeRow row = rows().get(10);
    byte[] block = new byte[SqlRows.encodedSize(row)];
    SqlRows.write(row, block, 0);
    SqlRows sqlRows = SqlRows.of(new UnsafeRowSerializer(TYPES.length, null)).orElseThrow();
    Iterator<Tuple2<Object, Object>> it =
        sqlRows.records(ByteBuffer.wrap(block, 0, block.length - 1));
    IllegalStateException e = assertThrows(IllegalStateException.class, it::next);
    assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
  }

  @Test
  void otherSerializersKeepTheirStreams() {
    SparkConf conf = new SparkConf(false);
    assertTrue(SqlRows.of(new JavaSerializer(conf)).isEmpty());
    assertTrue(SqlRows.of(new KryoSerializer(conf)).isEmpty());
  }
}
