package dev.shuffle.spark;

import org.apache.spark.ShuffleDependency;
import org.apache.spark.shuffle.BaseShuffleHandle;

/**
 * A shuffle of the node shuffle service: Spark's dependency plus the application's identity on
 * the servers, so that every task (on any executor, whenever it started) writes and reads with
 * the credentials the driver obtained. Serialized into tasks with the dependency.
 */
public final class NodeShuffleHandle<K, V, C> extends BaseShuffleHandle<K, V, C> {
  private static final long serialVersionUID = 1L;

  private final String appId;
  private final String token;

  public NodeShuffleHandle(
      int shuffleId, ShuffleDependency<K, V, C> dependency, String appId, String token) {
    super(shuffleId, dependency);
    this.appId = appId;
    this.token = token;
  }

  /** The application's id on the shuffle servers. */
  public String appId() {
    return appId;
  }

  /** The application's token ("" when the servers run without secrets). */
  public String token() {
    return token;
  }

  public int numPartitions() {
    return dependency().partitioner().numPartitions();
  }
}
