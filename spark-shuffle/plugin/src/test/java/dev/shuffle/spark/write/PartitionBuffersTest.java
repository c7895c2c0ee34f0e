package dev.shuffle.spark.write;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class PartitionBuffersTest {
  record Block(int partition, byte[] data, int records) {}

  private final List<Block> blocks = new ArrayList<>();

  private void write(PartitionBuffers buffers, int partition, int bytes, byte fill) {
    buffers.select(partition);
    byte[] record = new byte[bytes];
    Arrays.fill(record, fill);
    buffers.write(record, 0, record.length);
    buffers.endRecord();
  }

  private PartitionBuffers buffers(int partitions, int blockSize, long budget) {
    return new PartitionBuffers(
        partitions,
        blockSize,
        budget,
        (p, data, length, records) -> blocks.add(new Block(p, Arrays.copyOf(data, length), records)));
  }

  @Test
  void aPartitionIsHandedOverOnceItHoldsABlocksWorthAndRecordsAreNeverSplit() {
    PartitionBuffers b = buffers(3, 1000, 1 << 20);
    for (int i = 0; i < 7; i++) {
      write(b, 1, 300, (byte) i);
    }
    assertEquals(1, blocks.size()); // after the 4th record: 1,200 bytes >= 1,000
    assertEquals(1200, blocks.get(0).data().length);
    assertEquals(4, blocks.get(0).records());
    b.flushAll();
    assertEquals(2, blocks.size());
    assertEquals(900, blocks.get(1).data().length);
    assertEquals(3, blocks.get(1).records());
    // Whole records, in order: the second block holds records 4, 5 and 6 (300 bytes each).
    assertEquals(4, blocks.get(1).data()[0]);
    assertEquals(5, blocks.get(1).data()[300]);
    assertEquals(6, blocks.get(1).data()[899]);
  }

  @Test
  void aRecordLargerThanABlockMakesABlockOfItsOwn() {
    PartitionBuffers b = buffers(2, 1000, 1 << 20);
    write(b, 0, 10, (byte) 1);
    write(b, 0, 5000, (byte) 2);
    assertEquals(1, blocks.size());
    assertEquals(5010, blocks.get(0).data().length);
    assertEquals(2, blocks.get(0).records());
  }

  @Test
  void memoryStaysBoundedWithManyPartitions() {
    PartitionBuffers b = buffers(10_000, 256 << 10, 1 << 20);
    long written = 0;
    for (int i = 0; i < 200_000; i++) {
      write(b, (i * 7919) % 10_000, 40, (byte) i);
      written += 40;
    }
    b.flushAll();
    long handed = 0;
    long records = 0;
    for (Block block : blocks) {
      handed += block.data().length;
      records += block.records();
      assertTrue(block.data().length % 40 == 0, "a record was split");
    }
    assertEquals(written, handed);
    assertEquals(200_000, records);
    // With 1 MiB for 10,000 partitions, buffers are handed over early, as many small blocks.
    assertTrue(blocks.size() > 10_000, "blocks: " + blocks.size());
  }
}
