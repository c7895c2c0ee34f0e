package dev.shuffle.spark;

import dev.shuffle.spark.client.NativeLibrary;
import dev.shuffle.spark.driver.NodeShuffleDriverComponents;
import dev.shuffle.spark.read.NodeShuffleReader;
import dev.shuffle.spark.write.NodeShuffleWriter;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.network.buffer.ManagedBuffer;
import org.apache.spark.network.shuffle.MergedBlockMeta;
import org.apache.spark.shuffle.ShuffleBlockResolver;
import org.apache.spark.shuffle.ShuffleHandle;
import org.apache.spark.shuffle.ShuffleManager;
import org.apache.spark.shuffle.ShuffleReadMetricsReporter;
import org.apache.spark.shuffle.ShuffleReader;
import org.apache.spark.shuffle.ShuffleWriteMetricsReporter;
import org.apache.spark.shuffle.ShuffleWriter;
import org.apache.spark.shuffle.api.ShuffleDriverComponents;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.ShuffleMergedBlockId;
import scala.Option;
import scala.collection.immutable.Seq;

/**
 * Spark's ShuffleManager for the node shuffle service (spark.shuffle.manager). Map tasks write
 * through the C++ client library to their node's shuffle server, and reduce tasks read from the
 * servers that hold the maps Spark's map output tracker names; see NodeShuffleWriter and
 * NodeShuffleReader. Goes with spark.shuffle.sort.io.plugin.class=dev.shuffle.spark.
 * NodeShuffleDataIO, whose driver components register the application with the servers.
 *
 * <p>Spark 4 may create the manager before SparkEnv exists and after the application's jars were
 * fetched: the constructor only reads the SparkConf it is given. Thread-safe.
 */
public final class NodeShuffleManager implements ShuffleManager {
  private final NodeShuffleConf conf;

  public NodeShuffleManager(SparkConf conf, boolean isDriver) {
    this.conf = NodeShuffleConf.from(conf);
  }

  public NodeShuffleManager(SparkConf conf) {
    this(conf, false);
  }

  @Override
  public <K, V, C> ShuffleHandle registerShuffle(int shuffleId, ShuffleDependency<K, V, C> dep) {
    SparkContext sc = dep.rdd().context();
    ShuffleDriverComponents components = sc.shuffleDriverComponents();
    if (!(components instanceof NodeShuffleDriverComponents node)) {
      throw new IllegalStateException(
          "spark.shuffle.manager=" + getClass().getName() + " needs "
              + "spark.shuffle.sort.io.plugin.class=" + NodeShuffleDataIO.class.getName()
              + " (it registers the application with the shuffle servers and keeps map outputs"
              + " when executors go away); found " + components.getClass().getName());
    }
    node.listenTo(sc);
    NodeShuffleDriverComponents.Application app = node.application();
    node.shuffleRegistered(shuffleId, dep.partitioner().numPartitions());
    return new NodeShuffleHandle<>(
        shuffleId,
        dep,
        app.appId(),
        app.token(),
        conf.replicas() > 1 ? node.replicaServers() : java.util.List.of());
  }

  @Override
  @SuppressWarnings("unchecked")
  public <K, V> ShuffleWriter<K, V> getWriter(
      ShuffleHandle handle,
      long mapId,
      TaskContext context,
      ShuffleWriteMetricsReporter metrics) {
    NativeLibrary.ensureLoaded(conf.nativeLibrary());
    return new NodeShuffleWriter<>(
        (NodeShuffleHandle<K, V, Object>) ours(handle), mapId, context, conf, metrics);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <K, C> ShuffleReader<K, C> getReader(
      ShuffleHandle handle,
      int startMapIndex,
      int endMapIndex,
      int startPartition,
      int endPartition,
      TaskContext context,
      ShuffleReadMetricsReporter metrics) {
    NativeLibrary.ensureLoaded(conf.nativeLibrary());
    return new NodeShuffleReader<>(
        (NodeShuffleHandle<K, ?, C>) ours(handle),
        startMapIndex,
        endMapIndex,
        startPartition,
        endPartition,
        context,
        conf,
        metrics);
  }

  private static NodeShuffleHandle<?, ?, ?> ours(ShuffleHandle handle) {
    if (handle instanceof NodeShuffleHandle<?, ?, ?> node) {
      return node;
    }
    throw new IllegalArgumentException(
        "shuffle " + handle.shuffleId() + " was registered by another shuffle manager ("
            + handle.getClass().getName() + "); the driver and every executor must use "
            + NodeShuffleManager.class.getName());
  }

  /** The servers' data is removed by the driver components (removeShuffle); nothing is local. */
  @Override
  public boolean unregisterShuffle(int shuffleId) {
    return true;
  }

  @Override
  public ShuffleBlockResolver shuffleBlockResolver() {
    return RESOLVER;
  }

  @Override
  public void stop() {}

  // Blocks are served by the nodes' shuffle servers, never by an executor's block manager.
  // The return types name scala.collection.immutable.Seq: Scala 2.13 declares it, and under 2.12
  // (Spark 3.5), which declares scala.collection.Seq, it is a covariant override.
  private static final ShuffleBlockResolver RESOLVER =
      new ShuffleBlockResolver() {
        @Override
        public ManagedBuffer getBlockData(BlockId blockId, Option<String[]> dirs) {
          throw unsupported(blockId);
        }

        @Override
        public Seq<ManagedBuffer> getMergedBlockData(
            ShuffleMergedBlockId blockId, Option<String[]> dirs) {
          throw unsupported(blockId);
        }

        @Override
        public MergedBlockMeta getMergedBlockMeta(
            ShuffleMergedBlockId blockId, Option<String[]> dirs) {
          throw unsupported(blockId);
        }

        @Override
        public void stop() {}

        private UnsupportedOperationException unsupported(BlockId blockId) {
          return new UnsupportedOperationException(
              "shuffle block " + blockId + " lives on a node shuffle server, not in an executor's"
                  + " block manager (push-based shuffle and block migration do not apply)");
        }
      };
}
