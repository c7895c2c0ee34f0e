package dev.shuffle.spark;

import dev.shuffle.spark.replica.ServerAddress;
import java.util.List;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.shuffle.BaseShuffleHandle;

/**
 * A shuffle of the node shuffle service: Spark's dependency plus the application's identity on
 * the servers, so that every task (on any executor, whenever it started) writes and reads with
 * the credentials the driver obtained, and with replicas=2 the servers the driver knew of when the
 * shuffle was registered, among which each map's second copy goes (ReplicaChoice). Serialized
 * into tasks with the dependency.
 */
public final class NodeShuffleHandle<K, V, C> extends BaseShuffleHandle<K, V, C> {
  private static final long serialVersionUID = 1L;

  private final String appId;
  private final String token;
  private final List<ServerAddress> replicaServers;

  public NodeShuffleHandle(
      int shuffleId,
      ShuffleDependency<K, V, C> dependency,
      String appId,
      String token,
      List<ServerAddress> replicaServers) {
    super(shuffleId, dependency);
    this.appId = appId;
    this.token = token;
    this.replicaServers = List.copyOf(replicaServers);
  }

  /** The application's id on the shuffle servers. */
  public String appId() {
    return appId;
  }

  /** The application's token ("" when the servers run without secrets). */
  public String token() {
    return token;
  }

  /** The servers second copies go to; empty with one copy (spark.nodeshuffle.replicas=1). */
  public List<ServerAddress> replicaServers() {
    return replicaServers;
  }

  public int numPartitions() {
    return dependency().partitioner().numPartitions();
  }
}
