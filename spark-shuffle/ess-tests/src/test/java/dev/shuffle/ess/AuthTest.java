package dev.shuffle.ess;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.spark.network.TransportContext;
import org.apache.spark.network.client.TransportClient;
import org.apache.spark.network.client.TransportClientFactory;
import org.apache.spark.network.crypto.AuthClientBootstrap;
import org.apache.spark.network.sasl.SecretKeyHolder;
import org.apache.spark.network.server.NoOpRpcHandler;
import org.apache.spark.network.shuffle.ExternalBlockStoreClient;
import org.apache.spark.network.shuffle.protocol.ExecutorShuffleInfo;
import org.apache.spark.network.shuffle.protocol.OpenBlocks;
import org.apache.spark.network.util.TransportConf;
import dev.shuffle.testkit.ShuffleServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * spark.authenticate against the Spark listener: Spark's real client authenticates with SASL
 * DIGEST-MD5 and the application's secret (one shared secret file, or a file per application);
 * wrong and missing secrets are refused; an authenticated connection cannot name another
 * application.
 */
class AuthTest {
  private static final String SHARED_SECRET = "shared-secret-of-every-app";
  private static final String OWN_SECRET = "the-secret-of-app-own";

  @TempDir
  static Path tmp;
  static ShuffleServer server;
  static SparkShuffleFiles spark;
  static SparkShuffleFiles.Shuffle shuffle;

  @BeforeAll
  static void setUp() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("root"));
    Path secrets = Files.createDirectories(tmp.resolve("secrets"));
    Files.writeString(secrets.resolve("app-own"), OWN_SECRET + "\n");
    Path shared = Files.writeString(tmp.resolve("shared-secret"), SHARED_SECRET);
    server = EssServers.start(tmp.resolve("server"), root,
        "--spark-secret-file=" + shared, "--spark-secrets-dir=" + secrets);
    spark = SparkShuffleFiles.start(root.resolve("spark-local"));
    shuffle = spark.write(2, 3, 64 << 10, 4 << 10);
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (spark != null) {
      spark.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static ExecutorShuffleInfo info() {
    return new ExecutorShuffleInfo(spark.localDirs, spark.subDirs, "sort");
  }

  private static void registerAndFetch(ExternalBlockStoreClient client) throws Exception {
    client.registerWithShuffleServer(server.host(), server.sparkPort(), "1", info());
    EssClients.Fetched got = EssClients.fetch(client, server.host(), server.sparkPort(), "1",
        new String[] {shuffle.blockId(0, 1), shuffle.blockId(1, 2)}, null);
    assertTrue(got.failures.isEmpty(), () -> got.failures.toString());
    assertArrayEquals(shuffle.expected(0, 1, 2), got.blocks.get(shuffle.blockId(0, 1)));
    assertArrayEquals(shuffle.expected(1, 2, 3), got.blocks.get(shuffle.blockId(1, 2)));
  }

  @Test
  void sharedSecretAuthenticates() throws Exception {
    double before = server.metric("shuffle_spark_auth_successes_total");
    try (ExternalBlockStoreClient client = EssClients.client("app-shared", SHARED_SECRET, Map.of())) {
      registerAndFetch(client);
    }
    assertTrue(server.metric("shuffle_spark_auth_successes_total") >= before + 2);
  }

  @Test
  void perApplicationSecretAuthenticatesAndOverridesTheSharedOne() throws Exception {
    try (ExternalBlockStoreClient client = EssClients.client("app-own", OWN_SECRET, Map.of())) {
      registerAndFetch(client);
    }
    try (ExternalBlockStoreClient client = EssClients.client("app-own", SHARED_SECRET, Map.of())) {
      assertThrows(Exception.class, () -> client.registerWithShuffleServer(
          server.host(), server.sparkPort(), "1", info()));
    }
  }

  @Test
  void wrongSecretIsRefused() throws Exception {
    double before = server.metric("shuffle_spark_auth_failures_total");
    double registrations = server.metric("shuffle_spark_registrations_total");
    try (ExternalBlockStoreClient client = EssClients.client("app-wrong", "not-the-secret",
        Map.of())) {
      Exception e = assertThrows(Exception.class, () -> client.registerWithShuffleServer(
          server.host(), server.sparkPort(), "1", info()));
      assertTrue(String.valueOf(e).contains("DIGEST-MD5") || String.valueOf(e.getCause())
          .contains("DIGEST-MD5"), e::toString);
    }
    assertEquals(before + 1, server.metric("shuffle_spark_auth_failures_total"));
    assertEquals(registrations, server.metric("shuffle_spark_registrations_total"));
  }

  @Test
  void missingSecretIsRefused() throws Exception {
    try (ExternalBlockStoreClient client = EssClients.client("app-none")) {
      Exception e = assertThrows(Exception.class, () -> client.registerWithShuffleServer(
          server.host(), server.sparkPort(), "1", info()));
      assertTrue(String.valueOf(e).contains("spark.authenticate"), e::toString);
      EssClients.Fetched got = EssClients.fetch(client, server.host(), server.sparkPort(),
          "1", new String[] {shuffle.blockId(0, 0)}, null);
      assertEquals(1, got.failures.size());
    }
  }

  @Test
  void aesAuthenticationAndEncryption() throws Exception {
    // spark.network.crypto.enabled without SASL fallback: the AES-based handshake, then every
    // byte AES-CTR encrypted both ways (the blocks compared byte for byte after decryption).
    Map<String, String> aes = Map.of("spark.network.crypto.enabled", "true",
        "spark.network.crypto.saslFallback", "false");
    double before = server.metric("shuffle_spark_auth_successes_total");
    try (ExternalBlockStoreClient client = EssClients.client("app-own", OWN_SECRET, aes)) {
      registerAndFetch(client);
      EssClients.Fetched got = EssClients.fetch(client, server.host(), server.sparkPort(),
          "1", new String[] {shuffle.batchId(0, 0, 3)}, tmp.toFile());
      assertTrue(got.failures.isEmpty(), () -> got.failures.toString());
      assertArrayEquals(shuffle.expected(0, 0, 3), got.blocks.get(shuffle.batchId(0, 0, 3)));
    }
    assertTrue(server.metric("shuffle_spark_auth_successes_total") > before);
    try (ExternalBlockStoreClient client = EssClients.client("app-own", "wrong-secret", aes)) {
      assertThrows(Exception.class, () -> client.registerWithShuffleServer(
          server.host(), server.sparkPort(), "1", info()));
    }
  }

  @Test
  void anAuthenticatedConnectionCannotNameAnotherApplication() throws Exception {
    try (ExternalBlockStoreClient owner = EssClients.client("app-shared", SHARED_SECRET, Map.of())) {
      owner.registerWithShuffleServer(server.host(), server.sparkPort(), "1", info());
    }
    TransportConf conf = EssClients.conf(Map.of());
    SecretKeyHolder keys = new SecretKeyHolder() {
      @Override
      public String getSaslUser(String app) {
        return "sparkSaslUser";
      }

      @Override
      public String getSecretKey(String app) {
        return OWN_SECRET;
      }
    };
    try (TransportContext context = new TransportContext(conf, new NoOpRpcHandler(), true, true);
         TransportClientFactory factory = context.createClientFactory(
             List.of(new AuthClientBootstrap(conf, "app-own", keys)));
         TransportClient client = factory.createClient(server.host(), server.sparkPort())) {
      Exception e = assertThrows(Exception.class, () -> client.sendRpcSync(
          new OpenBlocks("app-shared", "1", new String[] {shuffle.blockId(0, 0)}).toByteBuffer(),
          20_000));
      assertTrue(String.valueOf(e).contains("not authorized for application app-shared"),
          e::toString);
    }
  }
}
