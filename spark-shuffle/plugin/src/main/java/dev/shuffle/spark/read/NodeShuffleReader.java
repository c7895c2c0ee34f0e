package dev.shuffle.spark.read;

import dev.shuffle.spark.NodeShuffleConf;
import dev.shuffle.spark.NodeShuffleHandle;
import dev.shuffle.spark.ServerLocations;
import dev.shuffle.spark.client.NativeReader;
import dev.shuffle.spark.client.ShuffleServiceException;
import dev.shuffle.spark.rows.SqlRows;
import dev.shuffle.spark.shim.SparkShim;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import org.apache.spark.Aggregator;
import org.apache.spark.InterruptibleIterator;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.serializer.SerializerInstance;
import org.apache.spark.shuffle.FetchFailedException;
import org.apache.spark.shuffle.ShuffleReadMetricsReporter;
import org.apache.spark.shuffle.ShuffleReader;
import org.apache.spark.util.collection.ExternalSorter;
import scala.Option;
import scala.Product2;
import scala.collection.AbstractIterator;
import scala.collection.Iterator;
import scala.math.Ordering;

/**
 * Reads partitions [startPartition, endPartition) of maps [startMapIndex, endMapIndex) of a
 * shuffle: any partition range and map range, so AQE's partition coalescing, skew-join splits and
 * local shuffle reader all work. Spark's map output tracker says which attempt of each map to
 * read; the client library fetches exactly those attempts' blocks from the servers that hold
 * them (verified, each once) and this class deserializes them with the dependency's serializer,
 * then aggregates and sorts with Spark's own Aggregator and ExternalSorter, as Spark's
 * BlockStoreShuffleReader does.
 *
 * <p>A server that is gone for good (unreachable after the library's retries), or that lost a
 * map's output, fails the task with a FetchFailedException against that server's location: Spark
 * then drops that node's outputs only and re-runs those maps, not the stage. With replicas=2, maps
 * whose primary is gone are read from their replicas instead (see {@link #failure}); the
 * FetchFailedException comes only when a map's both copies are gone. Not thread-safe: one per
 * reduce task.
 */
public final class NodeShuffleReader<K, C> implements ShuffleReader<K, C> {
  private static final long WAIT_MS = 200;

  private final NodeShuffleHandle<K, ?, C> handle;
  private final int startMapIndex;
  private final int endMapIndex;
  private final int startPartition;
  private final int endPartition;
  private final TaskContext context;
  private final NodeShuffleConf conf;
  private final ShuffleReadMetricsReporter metrics;

  public NodeShuffleReader(
      NodeShuffleHandle<K, ?, C> handle,
      int startMapIndex,
      int endMapIndex,
      int startPartition,
      int endPartition,
      TaskContext context,
      NodeShuffleConf conf,
      ShuffleReadMetricsReporter metrics) {
    this.handle = handle;
    this.startMapIndex = startMapIndex;
    this.endMapIndex = endMapIndex;
    this.startPartition = startPartition;
    this.endPartition = endPartition;
    this.context = context;
    this.conf = conf;
    this.metrics = metrics;
  }

  @Override
  @SuppressWarnings("unchecked")
  public Iterator<Product2<K, C>> read() {
    ShuffleDependency<K, ?, C> dep = handle.dependency();
    MapRefs maps =
        MapRefs.from(
            SparkEnv.get()
                .mapOutputTracker()
                .getMapSizesByExecutorId(
                    handle.shuffleId(), startMapIndex, endMapIndex, startPartition, endPartition));
    Iterator<Product2<K, Object>> records = maps.isEmpty() ? empty() : new Records<>(maps);
    Iterator<Product2<K, C>> aggregated;
    if (dep.aggregator().isDefined()) {
      Aggregator<K, Object, C> agg = (Aggregator<K, Object, C>) dep.aggregator().get();
      aggregated =
          dep.mapSideCombine()
              ? (Iterator<Product2<K, C>>)
                  (Iterator<?>)
                      agg.combineCombinersByKey((Iterator<Product2<K, C>>) (Iterator<?>) records,
                          context)
              : (Iterator<Product2<K, C>>) (Iterator<?>) agg.combineValuesByKey(records, context);
    } else {
      aggregated = (Iterator<Product2<K, C>>) (Iterator<?>) records;
    }
    Option<Ordering<K>> ordering = dep.keyOrdering();
    Iterator<Product2<K, C>> result = aggregated;
    if (ordering.isDefined()) {
      ExternalSorter<K, C, C> sorter =
          SparkShim.sorter(context, Option.empty(), Option.empty(), ordering, dep.serializer());
      result = sorter.insertAllAndUpdateMetrics(aggregated);
    }
    return result instanceof InterruptibleIterator
        ? result
        : new InterruptibleIterator<>(context, result);
  }

  // A reader of the maps, each from its primary, or from its replica once the primary was found
  // gone; a server found gone before any block was handed out is replaced by the replicas of its
  // maps (when they all have one) and the reader opened again.
  private NativeReader open(MapRefs maps) {
    for (;;) {
      try {
        NativeReader reader = openOnce(maps);
        context.addTaskCompletionListener(
            (org.apache.spark.util.TaskCompletionListener) ctx -> reader.close());
        return reader;
      } catch (ShuffleServiceException e) {
        RuntimeException failure = failure(e, maps, false);
        if (failure != null) {
          throw failure;
        }
      }
    }
  }

  private NativeReader openOnce(MapRefs maps) {
    List<MapRefs.MapRef> refs = maps.all();
    String[] addresses = maps.readAddresses();
    int[] mapIds = new int[refs.size()];
    int[] attempts = new int[refs.size()];
    for (int i = 0; i < refs.size(); i++) {
      mapIds[i] = refs.get(i).mapIndex();
      attempts[i] = refs.get(i).attempt();
    }
    return NativeReader.open(
        handle.appId(),
        handle.token(),
        handle.shuffleId(),
        handle.numPartitions(),
        startPartition,
        endPartition,
        addresses,
        mapIds,
        attempts,
        conf.nativeOptions());
  }

  // The records of the blocks the native reader hands out, block after block, with Spark's
  // shuffle read metrics kept as it goes.
  private final class Records<V> extends AbstractIterator<Product2<K, V>> {
    private NativeReader reader;
    private final MapRefs maps;
    private final SerializerInstance serializer;
    private final Optional<SqlRows> rows; // Spark SQL's rows: read without the stream
    private Iterator<scala.Tuple2<Object, Object>> current = empty();
    private boolean done;
    private long reportedBytes;

    private boolean handedOut;

    Records(MapRefs maps) {
      this.reader = open(maps);
      this.maps = maps;
      this.serializer = handle.dependency().serializer().newInstance();
      this.rows = SqlRows.of(handle.dependency().serializer());
    }

    @Override
    public boolean hasNext() {
      while (!current.hasNext()) {
        if (done || !advance()) {
          return false;
        }
      }
      return true;
    }

    @Override
    @SuppressWarnings("unchecked")
    public Product2<K, V> next() {
      if (!hasNext()) {
        throw new java.util.NoSuchElementException();
      }
      metrics.incRecordsRead(1);
      return (Product2<K, V>) (Product2<?, ?>) current.next();
    }

    // Moves to the next block; false at the end (the reader is closed then).
    private boolean advance() {
      long start = System.nanoTime();
      ByteBuffer block;
      try {
        for (;;) {
          try {
            block = reader.nextBlock(WAIT_MS);
          } catch (ShuffleServiceException e) {
            RuntimeException failure = failure(e, maps, handedOut);
            if (failure != null) {
              throw failure;
            }
            reader.close(); // nothing was handed out: read again, from the replicas
            reader = open(maps);
            reportedBytes = 0;
            continue;
          }
          if (block == null || block.capacity() > 0) {
            break;
          }
          context.killTaskIfInterrupted(); // nothing arrived yet: was the task killed?
        }
      } finally {
        metrics.incFetchWaitTime((System.nanoTime() - start) / 1_000_000);
      }
      long[] stats = reader.stats();
      metrics.incRemoteBytesRead(stats[1] - reportedBytes);
      reportedBytes = stats[1];
      if (block == null) {
        done = true;
        reader.close();
        // As Spark's own reader does once its blocks are consumed: the temporary read metrics
        // of this reader become the task's shuffle read metrics.
        context.taskMetrics().mergeShuffleReadMetrics();
        return false;
      }
      metrics.incRemoteBlocksFetched(1);
      handedOut = true;
      current =
          rows.isPresent()
              ? rows.get().records(block)
              : serializer.deserializeStream(new ByteBufferInput(block)).asKeyValueIterator();
      return true;
    }
  }

  // What a failure of the reader means. A server whose maps all have a replica (and are not
  // read from their replicas already) is remembered as gone: null when nothing was handed out
  // yet, so the caller opens the reader again and reads those maps from their replicas; else a
  // task failure, whose retry reads them there (records already handed out cannot be taken
  // back). Otherwise a server's data cannot be had: Spark must re-run the maps Spark has at its
  // node (all of them, since their location is that node's server), so a FetchFailedException
  // against the primary's location.
  private RuntimeException failure(
      ShuffleServiceException e, MapRefs maps, boolean handedOut) {
    if (!e.serverDataUnavailable()) {
      return e;
    }
    List<MapRefs.MapRef> at = maps.readFrom(e.server());
    if (at.isEmpty()) {
      return e;
    }
    boolean failOver =
        at.stream()
            .allMatch(
                r -> r.replica().isPresent()
                    && ServerLocations.dataAddress(r.location()).equals(e.server()));
    if (failOver) {
      LostServers.add(e.server());
      if (!handedOut) {
        return null;
      }
      return new ShuffleServiceException(
          e.code(),
          "the node shuffle server at " + e.server() + " is gone while shuffle "
              + handle.shuffleId() + " was read from it; the task's retry reads its maps from"
              + " their replicas: " + e.getMessage(),
          "");
    }
    MapRefs.MapRef ref = at.get(0);
    // FetchFailedException is checked in Java's eyes; Scala callers (the task) expect it as is.
    return sneakyThrow(
        new FetchFailedException(
            ref.location(),
            handle.shuffleId(),
            ref.mapTaskId(),
            ref.mapIndex(),
            startPartition,
            "the node shuffle server at " + e.server() + " cannot serve shuffle "
                + handle.shuffleId() + ": " + e.getMessage(),
            e));
  }

  // Scala's empty iterator: generic in 2.13, Iterator[Nothing] in 2.12 (Spark 3.5).
  @SuppressWarnings("unchecked")
  private static <T> Iterator<T> empty() {
    return (Iterator<T>) (Iterator<?>) scala.collection.Iterator$.MODULE$.empty();
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> RuntimeException sneakyThrow(Throwable t) throws T {
    throw (T) t;
  }
}
