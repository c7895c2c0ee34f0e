package dev.shuffle.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.BlockManagerId$;
import scala.Option;

/**
 * The location Spark records for map output held by a node's shuffle server: a synthetic
 * BlockManagerId whose executor id names the server's node ("nodeshuffle:NODE"), whose host and
 * port are the server's data plane, and whose topology info carries the server's control plane.
 * Real executors never have such an id, so losing an executor never drops these outputs, while a
 * fetch failure reported against it makes Spark drop exactly that node's outputs (and re-run
 * only those maps). With replicas=2 the topology info also names the server holding the output's
 * second copy ("nodeshuffle-replica=NODE|DATA|CONTROL"), so that the driver and readers know it
 * from the MapStatus alone. Pure functions; thread-safe.
 */
public final class ServerLocations {
  static final String EXECUTOR_PREFIX = "nodeshuffle:";
  static final String CONTROL_PREFIX = "nodeshuffle-control=";
  static final String REPLICA_PREFIX = "nodeshuffle-replica=";

  private ServerLocations() {}

  /**
   * @param node the server's node name
   * @param address its data-plane address, "host:port"
   * @param controlAddress its control plane, "host:port", or "" when unknown
   */
  public static BlockManagerId of(String node, String address, String controlAddress) {
    return of(node, address, controlAddress, "", "", "");
  }

  /**
   * The location of an output with a second copy on the server of node {@code replicaNode} at
   * data-plane {@code replicaAddress} (control plane {@code replicaControl}, "" when unknown);
   * {@code replicaAddress} "" means one copy.
   */
  public static BlockManagerId of(
      String node,
      String address,
      String controlAddress,
      String replicaNode,
      String replicaAddress,
      String replicaControl) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || address.startsWith("unix:")) {
      throw new IllegalArgumentException(
          "the shuffle server on node " + node + " advertises '" + address
              + "', not a host:port other nodes can reach: start it with --advertise-address"
              + " (or HOST_IP / POD_IP in its environment)");
    }
    String host = address.substring(0, colon); // an IPv6 host keeps its brackets, as Spark wants
    int port = Integer.parseInt(address.substring(colon + 1));
    List<String> info = new ArrayList<>();
    if (!controlAddress.isEmpty()) {
      info.add(CONTROL_PREFIX + controlAddress);
    }
    if (!replicaAddress.isEmpty()) {
      info.add(REPLICA_PREFIX + replicaNode + "|" + replicaAddress + "|" + replicaControl);
    }
    Option<String> topology =
        info.isEmpty() ? Option.empty() : Option.apply(String.join(";", info));
    return BlockManagerId$.MODULE$.apply(EXECUTOR_PREFIX + node, host, port, topology);
  }

  /** Whether {@code id} names a shuffle server (rather than an executor). */
  public static boolean isServer(BlockManagerId id) {
    return id.executorId().startsWith(EXECUTOR_PREFIX);
  }

  /** The server's data-plane address, "host:port" (IPv6 hosts in brackets). */
  public static String dataAddress(BlockManagerId id) {
    String host = id.host();
    return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host)
        + ":" + id.port();
  }

  /** The server's control-plane address, if the location carries it. */
  public static Optional<String> controlAddress(BlockManagerId id) {
    return info(id, CONTROL_PREFIX);
  }

  /** The location of the output's second copy (a location of its own, with one copy), if any. */
  public static Optional<BlockManagerId> replica(BlockManagerId id) {
    return info(id, REPLICA_PREFIX)
        .map(
            r -> {
              String[] parts = r.split("\\|", -1);
              if (parts.length != 3) {
                throw new IllegalArgumentException("bad replica in location " + id);
              }
              return of(parts[0], parts[1], parts[2]);
            });
  }

  private static Optional<String> info(BlockManagerId id, String prefix) {
    if (id.topologyInfo().isEmpty()) {
      return Optional.empty();
    }
    for (String part : id.topologyInfo().get().split(";")) {
      if (part.startsWith(prefix)) {
        return Optional.of(part.substring(prefix.length()));
      }
    }
    return Optional.empty();
  }
}
