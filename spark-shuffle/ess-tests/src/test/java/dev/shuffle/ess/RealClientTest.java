package dev.shuffle.ess;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.spark.network.shuffle.ExternalBlockStoreClient;
import org.apache.spark.network.shuffle.checksum.Cause;
import org.apache.spark.network.shuffle.protocol.ExecutorShuffleInfo;
import dev.shuffle.testkit.ShuffleServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spark's real client (ExternalBlockStoreClient) against shuffle-server's Spark listener, on
 * files Spark's own writer produced: registration, chunk and stream fetches of large and small
 * blocks, batched and not, the old OpenBlocks protocol, host-local dirs, corruption diagnosis,
 * block removal, refusals, and a server killed and restarted between registration and fetch.
 * Every fetched block is compared byte for byte with the range Spark's index file gives.
 */
class RealClientTest {
  private static final String SHUFFLE_MANAGER = "org.apache.spark.shuffle.sort.SortShuffleManager";

  @TempDir
  static Path tmp;
  static ShuffleServer server;
  static SparkShuffleFiles spark;
  static SparkShuffleFiles.Shuffle large;
  static SparkShuffleFiles.Shuffle small;
  static String appId;
  static ExternalBlockStoreClient client;

  @BeforeAll
  static void setUp() throws Exception {
    Path root = tmp.resolve("root");
    Files.createDirectories(root);
    server = EssServers.start(tmp.resolve("server"), root);
    spark = SparkShuffleFiles.start(root.resolve("spark-local"));
    large = spark.write(3, 4, 1 << 20, 64 << 10);
    small = spark.write(3, 300, 4 << 10, 512);
    appId = spark.sc.sc().applicationId();
    client = EssClients.client(appId);
    client.registerWithShuffleServer(server.host(), server.sparkPort(), "1",
        new ExecutorShuffleInfo(spark.localDirs, spark.subDirs, SHUFFLE_MANAGER));
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (client != null) {
      client.close();
    }
    if (spark != null) {
      spark.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static EssClients.Fetched fetch(ExternalBlockStoreClient c, String[] ids, File toDisk)
      throws InterruptedException {
    return EssClients.fetch(c, server.host(), server.sparkPort(), "1", ids, toDisk);
  }

  private static void assertAllMatch(EssClients.Fetched got, Map<String, byte[]> expected) {
    assertTrue(got.failures.isEmpty(), () -> "fetch failures: " + got.failures);
    assertEquals(expected.keySet(), got.blocks.keySet());
    for (Map.Entry<String, byte[]> e : expected.entrySet()) {
      assertArrayEquals(e.getValue(), got.blocks.get(e.getKey()), e.getKey());
    }
  }

  private static Map<String, byte[]> everyBlock(SparkShuffleFiles.Shuffle s) throws IOException {
    Map<String, byte[]> expected = new java.util.HashMap<>();
    for (int m = 0; m < s.mapIds.size(); m++) {
      for (int r = 0; r < s.reducers; r++) {
        expected.put(s.blockId(m, r), s.expected(m, r, r + 1));
      }
    }
    return expected;
  }

  @Test
  void largeBlocksByChunkFetch() throws Exception {
    Map<String, byte[]> expected = everyBlock(large);
    for (byte[] block : expected.values()) {
      assertTrue(block.length >= 1 << 20, "a large block has " + block.length + " bytes");
    }
    assertAllMatch(fetch(client, expected.keySet().toArray(new String[0]), null), expected);
  }

  @Test
  void largeBlocksToDiskByStreams() throws Exception {
    Map<String, byte[]> expected = everyBlock(large);
    File dir = Files.createDirectories(tmp.resolve("downloads")).toFile();
    assertAllMatch(fetch(client, expected.keySet().toArray(new String[0]), dir), expected);
  }

  @Test
  void smallBlocksOneChunkEach() throws Exception {
    Map<String, byte[]> expected = everyBlock(small);
    for (byte[] block : expected.values()) {
      assertTrue(block.length > 2000 && block.length < 8000, "small block of " + block.length);
    }
    assertAllMatch(fetch(client, expected.keySet().toArray(new String[0]), null), expected);
  }

  @Test
  void smallBlocksBatchedByContiguousReduceRanges() throws Exception {
    // One range per map and request, as Spark's reader merges them.
    Map<String, byte[]> expected = new java.util.HashMap<>();
    expected.put(small.batchId(0, 10, 110), small.expected(0, 10, 110));
    expected.put(small.batchId(1, 0, 300), small.expected(1, 0, 300));
    expected.put(small.batchId(2, 299, 300), small.expected(2, 299, 300));
    long before = (long) server.metric("shuffle_spark_blocks_served_total");
    long chunks = (long) server.metric("shuffle_spark_chunks_served_total");
    assertAllMatch(fetch(client, expected.keySet().toArray(new String[0]), null), expected);
    assertEquals(before + 100 + 300 + 1, (long) server.metric("shuffle_spark_blocks_served_total"));
    assertEquals(chunks + 3, (long) server.metric("shuffle_spark_chunks_served_total"));
  }

  @Test
  void oldOpenBlocksProtocol() throws Exception {
    Map<String, byte[]> expected = new java.util.HashMap<>();
    for (int r = 0; r < 20; r++) {
      expected.put(small.blockId(1, r), small.expected(1, r, r + 1));
    }
    try (ExternalBlockStoreClient old = EssClients.client(appId, null,
        Map.of("spark.shuffle.useOldFetchProtocol", "true"))) {
      assertAllMatch(fetch(old, expected.keySet().toArray(new String[0]), null), expected);
    }
  }

  @Test
  void hostLocalDirs() throws Exception {
    CompletableFuture<Map<String, String[]>> dirs = new CompletableFuture<>();
    client.getHostLocalDirs(server.host(), server.sparkPort(), new String[] {"1"}, dirs);
    assertArrayEquals(spark.localDirs, dirs.get(30, TimeUnit.SECONDS).get("1"));
  }

  @Test
  void corruptionDiagnosisWithSparksChecksumFiles() throws Exception {
    String prefix = "shuffle_" + small.shuffleId + "_" + small.mapIds.get(0) + "_0.checksum.";
    Path checksumFile = spark.files().entrySet().stream()
        .filter(e -> e.getKey().startsWith(prefix)).map(Map.Entry::getValue)
        .findFirst().orElseThrow(() -> new AssertionError("Spark wrote no " + prefix + "*"));
    String algorithm = checksumFile.getFileName().toString().substring(prefix.length());
    long stored;
    try (RandomAccessFile f = new RandomAccessFile(checksumFile.toFile(), "r")) {
      f.seek(8L * 7);
      stored = f.readLong();
    }
    String host = server.host();
    int port = server.sparkPort();
    long mapId = small.mapIds.get(0);
    int shuffleId = small.shuffleId;
    assertEquals(Cause.CHECKSUM_VERIFY_PASS,
        client.diagnoseCorruption(host, port, "1", shuffleId, mapId, 7, stored, algorithm));
    assertEquals(Cause.NETWORK_ISSUE,
        client.diagnoseCorruption(host, port, "1", shuffleId, mapId, 7, stored + 1, algorithm));
    assertEquals(Cause.UNSUPPORTED_CHECKSUM_ALGORITHM,
        client.diagnoseCorruption(host, port, "1", shuffleId, mapId, 7, stored, "MD5"));
  }

  @Test
  void removeBlocksDeletesSparkFiles() throws Exception {
    SparkShuffleFiles.Shuffle doomed = spark.write(2, 2, 4 << 10, 512);
    String data = doomed.dataFiles.get(0).getFileName().toString();
    String index = doomed.indexFiles.get(0).getFileName().toString();
    int removed = client.removeBlocks(server.host(), server.sparkPort(), "1",
        new String[] {data, index}).get(30, TimeUnit.SECONDS);
    assertEquals(2, removed);
    assertTrue(Files.notExists(doomed.dataFiles.get(0)));
    EssClients.Fetched got = fetch(client, new String[] {doomed.blockId(0, 0)}, null);
    assertEquals(1, got.failures.size());
    // A name that is not one of Spark's block files is refused (Spark's client reports 0
    // removed), not resolved to a path.
    Path bait = Files.writeString(tmp.resolve("root").resolve("bait"), "keep me");
    double failures = server.metric("shuffle_spark_rpc_failures_total");
    assertEquals(0, client.removeBlocks(server.host(), server.sparkPort(), "1",
        new String[] {"../../bait"}).get(30, TimeUnit.SECONDS));
    assertTrue(Files.exists(bait));
    assertEquals(failures + 1, server.metric("shuffle_spark_rpc_failures_total"));
  }

  @Test
  void unregisteredExecutorAndDirsOutsideTheRootAreRefused() throws Exception {
    EssClients.Fetched got = EssClients.fetch(client, server.host(), server.sparkPort(),
        "no-such-executor", new String[] {small.blockId(0, 0)}, null);
    assertEquals(1, got.failures.size());
    assertTrue(String.valueOf(got.failures.values().iterator().next())
        .contains("Executor is not registered"), () -> got.failures.toString());

    Path outside = Files.createDirectories(tmp.resolve("outside-root"));
    Exception refused = assertThrows(Exception.class, () -> client.registerWithShuffleServer(
        server.host(), server.sparkPort(), "2",
        new ExecutorShuffleInfo(new String[] {outside.toString()}, 64, SHUFFLE_MANAGER)));
    assertTrue(String.valueOf(refused.getMessage()).contains("--spark-local-dirs-root"),
        refused::toString);
  }

  @Test
  void registrationsSurviveSigkillAndRestart() throws Exception {
    // A second application, registered before the kill, fetched after the restart without
    // registering again.
    try (ExternalBlockStoreClient other = EssClients.client("app-restart")) {
      other.registerWithShuffleServer(server.host(), server.sparkPort(), "9",
          new ExecutorShuffleInfo(spark.localDirs, spark.subDirs, SHUFFLE_MANAGER));
    }
    server.kill();
    server.restart();
    assertEquals(2, (long) server.metric("shuffle_spark_registered_applications"));
    Map<String, byte[]> expected = new java.util.HashMap<>();
    List<String> ids = new ArrayList<>();
    for (int m = 0; m < large.mapIds.size(); m++) {
      ids.add(large.blockId(m, 2));
      expected.put(large.blockId(m, 2), large.expected(m, 2, 3));
    }
    try (ExternalBlockStoreClient other = EssClients.client("app-restart")) {
      assertAllMatch(EssClients.fetch(other, server.host(), server.sparkPort(), "9",
          ids.toArray(new String[0]), null), expected);
    }
  }
}
