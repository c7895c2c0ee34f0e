package dev.shuffle.ess;

import java.io.File;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.spark.network.buffer.ManagedBuffer;
import org.apache.spark.network.sasl.SecretKeyHolder;
import org.apache.spark.network.shuffle.BlockFetchingListener;
import org.apache.spark.network.shuffle.DownloadFile;
import org.apache.spark.network.shuffle.DownloadFileManager;
import org.apache.spark.network.shuffle.ExternalBlockStoreClient;
import org.apache.spark.network.shuffle.SimpleDownloadFile;
import org.apache.spark.network.util.MapConfigProvider;
import org.apache.spark.network.util.TransportConf;

/** Spark's real shuffle client (ExternalBlockStoreClient), set up as an executor sets it up. */
final class EssClients {
  private EssClients() {}

  static TransportConf conf(Map<String, String> settings) {
    Map<String, String> all = new HashMap<>();
    all.put("spark.shuffle.io.maxRetries", "0");  // a failure is the test's answer, not retried
    all.put("spark.shuffle.io.connectionTimeout", "20s");
    all.putAll(settings);
    return new TransportConf("shuffle", new MapConfigProvider(all));
  }

  /** A client of application {@code appId}; with a secret, spark.authenticate is on. */
  static ExternalBlockStoreClient client(String appId, String secret, Map<String, String> settings) {
    SecretKeyHolder keys = secret == null ? null : new SecretKeyHolder() {
      @Override
      public String getSaslUser(String app) {
        return "sparkSaslUser";
      }

      @Override
      public String getSecretKey(String app) {
        return secret;
      }
    };
    ExternalBlockStoreClient client =
        new ExternalBlockStoreClient(conf(settings), keys, secret != null, 20_000);
    client.init(appId);
    return client;
  }

  static ExternalBlockStoreClient client(String appId) {
    return client(appId, null, Map.of());
  }

  /** What a fetch returned: each block's bytes, or its failure. */
  static final class Fetched {
    final Map<String, byte[]> blocks = new ConcurrentHashMap<>();
    final Map<String, Throwable> failures = new ConcurrentHashMap<>();
  }

  /** Fetches and waits; with {@code toDisk} through stream requests into files under tmp. */
  static Fetched fetch(ExternalBlockStoreClient client, String host, int port, String execId,
      String[] blockIds, File tmp) throws InterruptedException {
    Fetched out = new Fetched();
    CountDownLatch done = new CountDownLatch(blockIds.length);
    BlockFetchingListener listener = new BlockFetchingListener() {
      @Override
      public void onBlockFetchSuccess(String blockId, ManagedBuffer data) {
        try {
          ByteBuffer buffer = data.nioByteBuffer();
          byte[] bytes = new byte[buffer.remaining()];
          buffer.get(bytes);
          out.blocks.put(blockId, bytes);
        } catch (Exception e) {
          out.failures.put(blockId, e);
        } finally {
          done.countDown();
        }
      }

      @Override
      public void onBlockFetchFailure(String blockId, Throwable exception) {
        out.failures.put(blockId, exception);
        done.countDown();
      }
    };
    DownloadFileManager files = tmp == null ? null : new DownloadFileManager() {
      private int next = 0;

      @Override
      public synchronized DownloadFile createTempFile(TransportConf conf) {
        return new SimpleDownloadFile(new File(tmp, "download-" + next++), conf);
      }

      @Override
      public boolean registerTempFileToClean(DownloadFile file) {
        return false;
      }
    };
    client.fetchBlocks(host, port, execId, blockIds, listener, files);
    if (!done.await(120, TimeUnit.SECONDS)) {
      throw new AssertionError("fetch of " + blockIds.length + " blocks did not finish in 120 s");
    }
    return out;
  }
}
