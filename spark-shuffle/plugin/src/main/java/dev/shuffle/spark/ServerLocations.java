package dev.shuffle.spark;

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
 * only those maps). Pure functions; thread-safe.
 */
public final class ServerLocations {
  static final String EXECUTOR_PREFIX = "nodeshuffle:";
  static final String CONTROL_PREFIX = "nodeshuffle-control=";

  private ServerLocations() {}

  /**
   * @param node the server's node name
   * @param address its data-plane address, "host:port"
   * @param controlAddress its control plane, "host:port", or "" when unknown
   */
  public static BlockManagerId of(String node, String address, String controlAddress) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || address.startsWith("unix:")) {
      throw new IllegalArgumentException(
          "the shuffle server on node " + node + " advertises '" + address
              + "', not a host:port other nodes can reach: start it with --advertise-address"
              + " (or HOST_IP / POD_IP in its environment)");
    }
    String host = address.substring(0, colon); // an IPv6 host keeps its brackets, as Spark wants
    int port = Integer.parseInt(address.substring(colon + 1));
    Option<String> topology =
        controlAddress.isEmpty() ? Option.empty() : Option.apply(CONTROL_PREFIX + controlAddress);
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
    if (id.topologyInfo().isEmpty()) {
      return Optional.empty();
    }
    String info = id.topologyInfo().get();
    return info.startsWith(CONTROL_PREFIX)
        ? Optional.of(info.substring(CONTROL_PREFIX.length()))
        : Optional.empty();
  }
}
