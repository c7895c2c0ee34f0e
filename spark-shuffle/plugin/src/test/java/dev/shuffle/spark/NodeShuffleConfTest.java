package dev.shuffle.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shuffle.spark.client.NativeOptions;
import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

class NodeShuffleConfTest {
  @Test
  void defaults() {
    NodeShuffleConf c = NodeShuffleConf.from(new SparkConf(false));
    assertEquals(64 << 10, c.blockSize());
    assertEquals(32L << 20, c.bufferSize());
    assertEquals(1, c.nativeOptions().compressionLevel());
    assertEquals(NativeOptions.CODEC_LZ4, c.nativeOptions().compressionCodec());
    assertEquals(List.of(), c.servers());
    assertEquals("default", c.namespace());
    assertEquals(20_000, c.controlTimeoutMs());
    assertTrue(c.nativeOptions().registerShuffleOnPush());
    assertEquals(48L << 20, c.nativeOptions().maxBytesInFlight());
  }

  @Test
  void readsEveryKey() {
    SparkConf conf =
        new SparkConf(false)
            .set("spark.kubernetes.namespace", "team-a")
            .set(NodeShuffleConf.SERVERS, " a:1, ,b:2 ")
            .set(NodeShuffleConf.BLOCK_SIZE, "1m")
            .set(NodeShuffleConf.IO_TIMEOUT, "2min")
            .set(NodeShuffleConf.COMPRESSION_LEVEL, "0");
    NodeShuffleConf c = NodeShuffleConf.from(conf);
    assertEquals(List.of("a:1", "b:2"), c.servers());
    assertEquals("team-a", c.namespace());
    assertEquals(1 << 20, c.blockSize());
    assertEquals(120_000, c.nativeOptions().ioTimeoutMs());
    assertEquals(0, c.nativeOptions().compressionLevel());
  }

  @Test
  void eachCodecHasLevelsOfItsOwn() {
    SparkConf lz4 = new SparkConf(false).set(NodeShuffleConf.COMPRESSION_LEVEL, "-4");
    assertEquals(-4, NodeShuffleConf.from(lz4).nativeOptions().compressionLevel());
    IllegalArgumentException high =
        assertThrows(
            IllegalArgumentException.class,
            () -> NodeShuffleConf.from(lz4.clone().set(NodeShuffleConf.COMPRESSION_LEVEL, "3")));
    assertTrue(high.getMessage().contains("from -10 to 1"), high.getMessage());

    SparkConf zstd = new SparkConf(false).set(NodeShuffleConf.COMPRESSION_CODEC, "ZSTD");
    NodeShuffleConf c = NodeShuffleConf.from(zstd);
    assertEquals(NativeOptions.CODEC_ZSTD, c.nativeOptions().compressionCodec());
    assertEquals(NodeShuffleConf.ZSTD_DEFAULT_LEVEL, c.nativeOptions().compressionLevel());
    assertEquals(
        9,
        NodeShuffleConf.from(zstd.clone().set(NodeShuffleConf.COMPRESSION_LEVEL, "9"))
            .nativeOptions()
            .compressionLevel());
    assertEquals(
        NativeOptions.CODEC_NONE,
        NodeShuffleConf.from(new SparkConf(false).set(NodeShuffleConf.COMPRESSION_CODEC, "none"))
            .nativeOptions()
            .compressionCodec());
  }

  @Test
  void tlsFilesReachTheNativeOptionsAndGoInPairs() {
    NodeShuffleConf c =
        NodeShuffleConf.from(
            new SparkConf(false)
                .set(NodeShuffleConf.TLS_CA_FILE, "/etc/shuffle/tls/ca.crt")
                .set(NodeShuffleConf.TLS_SERVER_NAME, "shuffle.internal"));
    assertEquals("/etc/shuffle/tls/ca.crt", c.nativeOptions().tlsCaFile());
    assertEquals("shuffle.internal", c.nativeOptions().tlsServerName());
    assertEquals("", NodeShuffleConf.from(new SparkConf(false)).nativeOptions().tlsCaFile());
    IllegalArgumentException alone =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                NodeShuffleConf.from(
                    new SparkConf(false)
                        .set(NodeShuffleConf.TLS_CA_FILE, "ca")
                        .set(NodeShuffleConf.TLS_CERT_FILE, "executor.crt")));
    assertTrue(alone.getMessage().contains(NodeShuffleConf.TLS_KEY_FILE), alone.getMessage());
    IllegalArgumentException noCa =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                NodeShuffleConf.from(
                    new SparkConf(false)
                        .set(NodeShuffleConf.TLS_CERT_FILE, "executor.crt")
                        .set(NodeShuffleConf.TLS_KEY_FILE, "executor.key")));
    assertTrue(noCa.getMessage().contains(NodeShuffleConf.TLS_CA_FILE), noCa.getMessage());
  }

  @Test
  void badValuesNameTheKeyAndWhatItTakes() {
    for (String[] bad :
        new String[][] {
          {NodeShuffleConf.BLOCK_SIZE, "lots", "expected a size"},
          {NodeShuffleConf.BLOCK_SIZE, "64m", "expected a size from 1024 to 16777216"},
          {NodeShuffleConf.COMPRESSION_LEVEL, "30", "whole number from -10 to 1"},
          {NodeShuffleConf.COMPRESSION_LEVEL, "-11", "whole number from -10 to 1"},
          {NodeShuffleConf.COMPRESSION_CODEC, "snappy", "expected zstd, lz4 or none"},
          {NodeShuffleConf.MAX_RETRIES, "x", "whole number"},
          {NodeShuffleConf.IO_TIMEOUT, "soon", "expected a duration"},
          {NodeShuffleConf.NAMESPACE, " ", "must not be empty"},
          {NodeShuffleConf.REPLICAS, "3", "expected 1"},
          {NodeShuffleConf.REPLICAS, "0", "or 2"},
          {NodeShuffleConf.DATA_PORT, "70000", "whole number from 1 to 65535"},
        }) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> NodeShuffleConf.from(new SparkConf(false).set(bad[0], bad[1])),
              bad[0]);
      assertTrue(e.getMessage().contains(bad[0]) || bad[0].equals(NodeShuffleConf.NAMESPACE),
          e.getMessage());
      assertTrue(e.getMessage().contains(bad[2]), e.getMessage());
    }
    IllegalArgumentException waits =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                NodeShuffleConf.from(
                    new SparkConf(false)
                        .set(NodeShuffleConf.RETRY_WAIT, "5s")
                        .set(NodeShuffleConf.RETRY_MAX_WAIT, "1s")));
    assertTrue(waits.getMessage().contains(NodeShuffleConf.RETRY_MAX_WAIT), waits.getMessage());
  }

  @Test
  void ioEncryptionIsRefusedAtStart() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                NodeShuffleConf.from(
                    new SparkConf(false).set("spark.io.encryption.enabled", "true")));
    assertTrue(e.getMessage().contains("not supported"), e.getMessage());
  }
  @Test
  void oneCopyUnlessTwoAreAskedFor() {
    assertEquals(1, NodeShuffleConf.from(new SparkConf(false)).replicas());
    assertEquals(7340, NodeShuffleConf.from(new SparkConf(false)).dataPort());
    assertEquals(
        2, NodeShuffleConf.from(new SparkConf(false).set(NodeShuffleConf.REPLICAS, "2")).replicas());
  }
}
