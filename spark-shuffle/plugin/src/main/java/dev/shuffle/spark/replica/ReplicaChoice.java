package dev.shuffle.spark.replica;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which server holds a map output's second copy (spark.nodeshuffle.replicas=2): one on another
 * node than the map's own server, from the servers the driver put in the shuffle handle. The
 * choice is a function of (those servers, the map's node, the map index, the task's attempt
 * number): maps spread over the other nodes in turn, and a retried attempt takes the next one,
 * so a map whose replica failed does not pick it again. Pure functions; thread-safe.
 */
public final class ReplicaChoice {
  private ReplicaChoice() {}

  /**
   * The replica of map {@code mapIndex}'s attempt number {@code attemptNumber} written on the
   * server at host {@code ownHost}, or empty when no server on another node is known (the map
   * then has one copy).
   */
  public static Optional<ServerAddress> choose(
      List<ServerAddress> servers, String ownHost, int mapIndex, int attemptNumber) {
    List<ServerAddress> others = new ArrayList<>();
    for (ServerAddress s : servers) {
      if (!s.host().equals(ownHost) && !ServerAddress.hostOf(s.control()).equals(ownHost)
          && others.stream().noneMatch(o -> o.data().equals(s.data()))) {
        others.add(s);
      }
    }
    if (others.isEmpty()) {
      return Optional.empty();
    }
    others.sort(Comparator.comparing(ServerAddress::data)); // the same order wherever computed
    return Optional.of(others.get(Math.floorMod(mapIndex + attemptNumber, others.size())));
  }

  /**
   * The host of this executor's own server, as well as it can be told before a write: the one a
   * previous commit in this process named ({@code learned}), else the configured server
   * (spark.nodeshuffle.server), $SHUFFLE_SERVER_ADDRESS or $SHUFFLE_NODE_IP when they are TCP
   * addresses, else the executor's own host (a Unix socket serves the executor's node).
   */
  public static String ownHost(
      String learned, String configured, Map<String, String> env, String executorHost) {
    for (String address :
        new String[] {learned, configured, env.getOrDefault("SHUFFLE_SERVER_ADDRESS", "")}) {
      String host = address == null ? "" : ServerAddress.hostOf(address.trim());
      if (!host.isEmpty()) {
        return host;
      }
    }
    String ip = env.getOrDefault("SHUFFLE_NODE_IP", "").trim();
    if (!ip.isEmpty()) {
      return ip.indexOf(':') >= 0 && !ip.startsWith("[") ? "[" + ip + "]" : ip;
    }
    return executorHost;
  }
}
