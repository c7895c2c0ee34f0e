package dev.shuffle.spark.shim;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.apache.spark.Aggregator;
import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.serializer.Serializer;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.util.collection.ExternalSorter;
import scala.Option;
import scala.math.Ordering;

/**
 * The one place where the plugin absorbs differences between the Spark versions it runs on
 * (4.0, 4.1, 4.2): {@code MapStatus.apply} took a 4th argument (a row-based checksum value) and
 * {@code ExternalSorter} a row-based checksum array in 4.1 (SPARK-51756). Both are found by
 * reflection once, so one plugin jar runs on every supported version. Thread-safe.
 */
public final class SparkShim {
  private static final Method MAP_STATUS_APPLY;
  private static final Object MAP_STATUS_MODULE;
  private static final Constructor<?> SORTER;
  private static final Class<?> ROW_CHECKSUM;

  static {
    try {
      Class<?> module = Class.forName("org.apache.spark.scheduler.MapStatus$");
      MAP_STATUS_MODULE = module.getField("MODULE$").get(null);
      Method apply = null;
      for (Method m : module.getMethods()) {
        if (m.getName().equals("apply")
            && m.getParameterCount() >= 3
            && m.getParameterTypes()[0] == BlockManagerId.class
            && (apply == null || m.getParameterCount() > apply.getParameterCount())) {
          apply = m;
        }
      }
      if (apply == null) {
        throw new IllegalStateException("MapStatus.apply(BlockManagerId, long[], long...) missing");
      }
      MAP_STATUS_APPLY = apply;
      Constructor<?> sorter = null;
      for (Constructor<?> c : ExternalSorter.class.getConstructors()) {
        if (c.getParameterTypes()[0] == TaskContext.class
            && (sorter == null || c.getParameterCount() > sorter.getParameterCount())) {
          sorter = c;
        }
      }
      if (sorter == null) {
        throw new IllegalStateException("ExternalSorter(TaskContext, ...) missing");
      }
      SORTER = sorter;
      ROW_CHECKSUM =
          sorter.getParameterCount() > 5 ? sorter.getParameterTypes()[5].getComponentType() : null;
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(
          "the node shuffle plugin does not support this Spark version: " + e);
    }
  }

  private SparkShim() {}

  /** {@code MapStatus(location, sizes, mapTaskId)} (no row-based checksum: 0 on 4.1+). */
  public static MapStatus mapStatus(BlockManagerId location, long[] sizes, long mapTaskId) {
    try {
      return (MapStatus)
          (MAP_STATUS_APPLY.getParameterCount() == 4
              ? MAP_STATUS_APPLY.invoke(MAP_STATUS_MODULE, location, sizes, mapTaskId, 0L)
              : MAP_STATUS_APPLY.invoke(MAP_STATUS_MODULE, location, sizes, mapTaskId));
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    } catch (InvocationTargetException e) {
      throw rethrow(e);
    }
  }

  /** {@code new ExternalSorter(context, aggregator, partitioner, ordering, serializer)}. */
  @SuppressWarnings("unchecked")
  public static <K, V, C> ExternalSorter<K, V, C> sorter(
      TaskContext context,
      Option<Aggregator<K, V, C>> aggregator,
      Option<Partitioner> partitioner,
      Option<Ordering<K>> ordering,
      Serializer serializer) {
    try {
      return (ExternalSorter<K, V, C>)
          (ROW_CHECKSUM != null
              ? SORTER.newInstance(
                  context,
                  aggregator,
                  partitioner,
                  ordering,
                  serializer,
                  Array.newInstance(ROW_CHECKSUM, 0))
              : SORTER.newInstance(context, aggregator, partitioner, ordering, serializer));
    } catch (InstantiationException | IllegalAccessException e) {
      throw new IllegalStateException(e);
    } catch (InvocationTargetException e) {
      throw rethrow(e);
    }
  }

  private static RuntimeException rethrow(InvocationTargetException e) {
    Throwable cause = e.getCause();
    if (cause instanceof RuntimeException r) {
      throw r;
    }
    if (cause instanceof Error err) {
      throw err;
    }
    return new IllegalStateException(cause);
  }
}
