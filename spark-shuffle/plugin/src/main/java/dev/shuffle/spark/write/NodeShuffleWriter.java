package dev.shuffle.spark.write;

import dev.shuffle.spark.NodeShuffleConf;
import dev.shuffle.spark.NodeShuffleHandle;
import dev.shuffle.spark.ServerLocations;
import dev.shuffle.spark.client.NativeWriter;
import dev.shuffle.spark.client.ShuffleServiceException;
import dev.shuffle.spark.replica.ReplicaChoice;
import dev.shuffle.spark.replica.ServerAddress;
import dev.shuffle.spark.rows.SqlRows;
import dev.shuffle.spark.shim.SparkShim;
import java.util.Optional;
import org.apache.spark.Partitioner;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.serializer.SerializationStream;
import org.apache.spark.serializer.Serializer;
import org.apache.spark.shuffle.ShuffleWriteMetricsReporter;
import org.apache.spark.shuffle.ShuffleWriter;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.util.collection.ExternalSorter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;
import scala.Product2;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Writes one map attempt's output to the node-local shuffle server through the client library.
 *
 * <p>Records are partitioned with the dependency's partitioner and serialized with its
 * serializer into blocks of about spark.nodeshuffle.writer.blockSize; the library compresses,
 * checksums and pushes them, and the attempt is committed (durable on the server) before
 * {@link #write} returns. Two ways:
 *
 * <ul>
 *   <li>records of a serializer whose records can be concatenated, with no map-side combine,
 *       go through one serialization stream straight into per-partition buffers (no sort);
 *       Spark SQL's rows skip the stream: each is copied once into its partition's buffer, in
 *       the serializer's format (SqlRows);
 *   <li>otherwise Spark's own ExternalSorter partitions (and, when the dependency asks for it,
 *       combines) them, spilling as Spark does, and each block is a serialization stream of
 *       its own.
 * </ul>
 *
 * <p>The MapStatus names the node's server (ServerLocations) and carries the exact encoded size
 * of every partition, as the server counted it: AQE plans from these. When another attempt of
 * the map committed first on that server, its output is the one served: the status then
 * describes that attempt (its sizes, and its task attempt id as the map id), so what Spark
 * registers is exactly what readers get. With replicas=2 every block also goes to a server on
 * another node (ReplicaChoice), the commit returns once both copies are durable, and the
 * status's location names the replica too (ServerLocations). Not thread-safe: one per map task.
 */
public final class NodeShuffleWriter<K, V, C> extends ShuffleWriter<K, V> {
  private static final ClassTag<Object> ANY = ClassTag$.MODULE$.Any();
  private static final Logger LOG = LoggerFactory.getLogger(NodeShuffleWriter.class);

  private final NodeShuffleHandle<K, V, C> handle;
  private final ShuffleDependency<K, V, C> dep;
  private final NodeShuffleConf conf;
  private final TaskContext context;
  private final ShuffleWriteMetricsReporter metrics;
  private final long taskAttemptId;
  private final int mapIndex;
  private NativeWriter writer;
  private long writeNanos;
  private MapStatus status;
  private long[] partitionLengths;

  public NodeShuffleWriter(
      NodeShuffleHandle<K, V, C> handle,
      long taskAttemptId,
      TaskContext context,
      NodeShuffleConf conf,
      ShuffleWriteMetricsReporter metrics) {
    this.handle = handle;
    this.dep = handle.dependency();
    this.conf = conf;
    this.context = context;
    this.metrics = metrics;
    this.taskAttemptId = taskAttemptId;
    this.mapIndex = context.partitionId();
  }

  @Override
  public void write(Iterator<Product2<K, V>> records) {
    long start = System.nanoTime();
    writer = openWriter();
    writeNanos += System.nanoTime() - start;
    Serializer serializer = dep.serializer();
    if (dep.mapSideCombine() || !serializer.supportsRelocationOfSerializedObjects()) {
      writeSorted(records);
    } else {
      writeDirect(records);
    }
    start = System.nanoTime();
    NativeWriter.CommitResult result = writer.commit();
    metrics.incBytesWritten(writer.encodedBytes());
    writer.close();
    writer = null;
    writeNanos += System.nanoTime() - start;
    metrics.incWriteTime(writeNanos);
    partitionLengths = result.partitionBytes();
    long mapTaskId = result.won() ? taskAttemptId : winnerTaskId(taskAttemptId, result.attempt());
    ownServer = result.address();
    // The replica counts only when it holds the attempt Spark registers (another attempt of the
    // map may have committed there first).
    boolean replicated = result.hasReplica() && result.replicaAttempt() == (int) mapTaskId;
    status =
        SparkShim.mapStatus(
            ServerLocations.of(
                result.node(),
                result.address(),
                result.controlAddress(),
                replicated ? result.replicaNode() : "",
                replicated ? result.replicaAddress() : "",
                replicated ? result.replicaControlAddress() : ""),
            partitionLengths,
            mapTaskId);
  }

  // The data address of this executor's server as the last commit in this process named it.
  private static volatile String ownServer = "";

  // The writer, with a second copy on another node's server when the handle names servers
  // (replicas=2). A replica that cannot be reached at open costs this map its second copy, not
  // the task: the output is written once and the log says so.
  private NativeWriter openWriter() {
    Optional<ServerAddress> replica = Optional.empty();
    if (!handle.replicaServers().isEmpty()) {
      SparkEnv env = SparkEnv.get();
      String executorHost = env == null ? "" : env.blockManager().blockManagerId().host();
      String ownHost =
          ReplicaChoice.ownHost(ownServer, conf.server(), System.getenv(), executorHost);
      replica =
          ReplicaChoice.choose(
              handle.replicaServers(), ownHost, mapIndex, context.attemptNumber());
      if (replica.isEmpty()) {
        LOG.warn("shuffle {} map {}: no shuffle server on another node than {} is known, so its"
            + " output has one copy", handle.shuffleId(), mapIndex, ownHost);
      }
    }
    if (replica.isPresent()) {
      try {
        return open(replica.get().data());
      } catch (ShuffleServiceException e) {
        if (!e.server().equals(replica.get().data())) {
          throw e;
        }
        LOG.warn("shuffle {} map {}: the replica server {} cannot be reached ({}), so this"
            + " output has one copy", handle.shuffleId(), mapIndex, e.server(), e.getMessage());
      }
    }
    return open("");
  }

  private NativeWriter open(String replica) {
    return NativeWriter.open(
        conf.server(),
        replica,
        handle.appId(),
        handle.token(),
        handle.shuffleId(),
        handle.numPartitions(),
        mapIndex,
        (int) taskAttemptId,
        conf.nativeOptions());
  }

  // Partitions and serializes records into per-partition buffers: Spark SQL's rows straight
  // (SqlRows), any other records through one serialization stream.
  private void writeDirect(Iterator<Product2<K, V>> records) {
    Partitioner partitioner = dep.partitioner();
    PartitionBuffers buffers =
        new PartitionBuffers(
            handle.numPartitions(), conf.blockSize(), conf.bufferSize(), this::pushBlock);
    Optional<SqlRows> rows = SqlRows.of(dep.serializer());
    long count =
        rows.isPresent()
            ? writeRows(records, partitioner, buffers, rows.get())
            : writeStream(records, partitioner, buffers);
    metrics.incRecordsWritten(count & 0xff); // the loops report whole batches of 256
    buffers.flushAll();
  }

  // Records through one serialization stream, flushed after each so that its bytes land in its
  // partition's buffer. Returns the records written.
  private long writeStream(
      Iterator<Product2<K, V>> records, Partitioner partitioner, PartitionBuffers buffers) {
    SerializationStream stream = dep.serializer().newInstance().serializeStream(buffers);
    long count = 0;
    while (records.hasNext()) {
      Product2<K, V> record = records.next();
      buffers.select(partitioner.getPartition(record._1()));
      stream.writeKey(record._1(), ANY);
      stream.writeValue(record._2(), ANY);
      stream.flush();
      buffers.endRecord();
      if ((++count & 0xff) == 0) {
        metrics.incRecordsWritten(256);
      }
    }
    return count;
  }

  // Spark SQL's rows, each copied once from the row into its partition's buffer in the
  // serializer's own format (SqlRows); the copy stays in PartitionBuffers.writeRow, out of this
  // loop, so that the JIT inlines the upstream operators here as it does for Spark's own writer
  // (docs/performance.md). Returns the records written.
  private long writeRows(
      Iterator<Product2<K, V>> records,
      Partitioner partitioner,
      PartitionBuffers buffers,
      SqlRows rows) {
    long count = 0;
    long rowBytes = 0;
    while (records.hasNext()) {
      Product2<K, V> record = records.next();
      rowBytes += buffers.writeRow(partitioner.getPartition(record._1()), (UnsafeRow) record._2());
      if ((++count & 0xff) == 0) {
        metrics.incRecordsWritten(256);
      }
    }
    rows.addDataSize(rowBytes);
    return count;
  }

  // Spark's ExternalSorter groups the records by partition (combining them when the dependency
  // asks for it), then each partition's records are cut into self-contained serialized blocks.
  private void writeSorted(Iterator<Product2<K, V>> records) {
    Option<org.apache.spark.Aggregator<K, V, C>> aggregator =
        dep.mapSideCombine() ? dep.aggregator() : Option.empty();
    ExternalSorter<K, V, C> sorter =
        SparkShim.sorter(
            context, aggregator, Option.apply(dep.partitioner()), Option.empty(), dep.serializer());
    try {
      sorter.insertAll(records);
      BlockBuilder block = new BlockBuilder(dep.serializer(), conf.blockSize());
      Iterator<Tuple2<Object, Iterator<Product2<K, C>>>> partitions = sorter.partitionedIterator();
      while (partitions.hasNext()) {
        Tuple2<Object, Iterator<Product2<K, C>>> next = partitions.next();
        int partition = (Integer) next._1();
        Iterator<Product2<K, C>> it = next._2();
        while (it.hasNext()) {
          Product2<K, C> record = it.next();
          block.add(record._1(), record._2());
          if (block.size() >= conf.blockSize()) {
            block.finish((data, length, count) -> pushBlock(partition, data, length, count));
          }
        }
        block.finish((data, length, count) -> pushBlock(partition, data, length, count));
      }
      metrics.incRecordsWritten(block.totalRecords());
      context.taskMetrics().incMemoryBytesSpilled(sorter.memoryBytesSpilled());
      context.taskMetrics().incDiskBytesSpilled(sorter.diskBytesSpilled());
      context.taskMetrics().incPeakExecutionMemory(sorter.peakMemoryUsedBytes());
    } finally {
      sorter.stop();
    }
  }

  private void pushBlock(int partition, byte[] data, int length, int records) {
    if (length > NodeShuffleConf.MAX_BLOCK_BYTES) {
      throw new IllegalStateException(
          "a record of shuffle " + handle.shuffleId() + " partition " + partition + " is "
              + length + " bytes serialized; the node shuffle service takes blocks of at most "
              + NodeShuffleConf.MAX_BLOCK_BYTES + " bytes");
    }
    long start = System.nanoTime();
    writer.writeBlock(partition, data, 0, length, records);
    writeNanos += System.nanoTime() - start;
  }

  // The task attempt id of the attempt the server serves, from the low 32 bits it stores: the
  // one nearest to ours (task attempt ids of one map are far less than 2^31 apart).
  static long winnerTaskId(long ownTaskId, int winnerAttempt) {
    long candidate = (ownTaskId & ~0xffffffffL) | (winnerAttempt & 0xffffffffL);
    if (candidate - ownTaskId > (1L << 31)) {
      candidate -= 1L << 32;
    } else if (ownTaskId - candidate > (1L << 31)) {
      candidate += 1L << 32;
    }
    return candidate;
  }

  @Override
  public Option<MapStatus> stop(boolean success) {
    if (writer != null) {
      writer.close(); // never committed: nothing of this attempt will be served
      writer = null;
    }
    return success && status != null ? Option.apply(status) : Option.empty();
  }

  @Override
  public long[] getPartitionLengths() {
    return partitionLengths;
  }
}
