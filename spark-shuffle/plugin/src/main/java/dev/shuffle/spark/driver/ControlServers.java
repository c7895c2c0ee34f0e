package dev.shuffle.spark.driver;

import dev.shuffle.spark.replica.ServerAddress;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which shuffle servers' control planes the driver talks to. Configured entries
 * (spark.nodeshuffle.servers) are "host:port" or "dns:NAME:PORT" (every address NAME resolves to,
 * such as the DaemonSet's headless Service, resolved at each use so that new nodes are seen), or
 * "DATA_HOST:PORT/CONTROL_HOST:PORT" for a server whose data plane is not at the control plane's
 * host and spark.nodeshuffle.dataPort (the hand-over peers' syntax); without any, the node-local
 * server: $SHUFFLE_CONTROL_ADDRESS, else $SHUFFLE_NODE_IP:7338, else 127.0.0.1:7338. Pure
 * functions; thread-safe.
 */
public final class ControlServers {
  public static final int DEFAULT_CONTROL_PORT = 7338;

  private ControlServers() {}

  /** The configured servers, resolved now; the node-local default when none is configured. */
  public static List<String> resolve(List<String> configured, Map<String, String> env) {
    Set<String> out = new LinkedHashSet<>();
    for (ServerAddress server : resolveServers(configured, env, DEFAULT_DATA_PORT)) {
      out.add(server.control());
    }
    return new ArrayList<>(out);
  }

  /** The data port of the DaemonSet's servers (their hostPort). */
  public static final int DEFAULT_DATA_PORT = 7340;

  /**
   * The configured servers with their data planes: an entry's own "DATA/CONTROL" pair, else the
   * control plane's host at {@code dataPort}.
   */
  public static List<ServerAddress> resolveServers(
      List<String> configured, Map<String, String> env, int dataPort) {
    Set<ServerAddress> out = new LinkedHashSet<>();
    if (configured.isEmpty()) {
      out.add(withDataPort(localDefault(env), dataPort));
    }
    for (String entry : configured) {
      int slash = entry.indexOf('/');
      if (slash >= 0) {
        String data = entry.substring(0, slash);
        String control = entry.substring(slash + 1);
        checkHostPort(data, entry);
        checkHostPort(control, entry);
        out.add(new ServerAddress(data, control));
      } else if (entry.startsWith("dns:")) {
        for (String control : resolveDns(entry)) {
          out.add(withDataPort(control, dataPort));
        }
      } else {
        checkHostPort(entry, entry);
        out.add(withDataPort(entry, dataPort));
      }
    }
    return new ArrayList<>(out);
  }

  private static ServerAddress withDataPort(String control, int dataPort) {
    return new ServerAddress(
        control.substring(0, control.lastIndexOf(':')) + ":" + dataPort, control);
  }

  static String localDefault(Map<String, String> env) {
    String address = env.get("SHUFFLE_CONTROL_ADDRESS");
    if (address != null && !address.isBlank()) {
      return address.trim();
    }
    String ip = env.get("SHUFFLE_NODE_IP");
    if (ip != null && !ip.isBlank()) {
      return bracket(ip.trim()) + ":" + DEFAULT_CONTROL_PORT;
    }
    return "127.0.0.1:" + DEFAULT_CONTROL_PORT;
  }

  private static List<String> resolveDns(String entry) {
    String rest = entry.substring("dns:".length());
    int colon = rest.lastIndexOf(':');
    checkHostPort(rest, entry);
    String name = rest.substring(0, colon);
    String port = rest.substring(colon + 1);
    List<String> out = new ArrayList<>();
    try {
      for (InetAddress a : InetAddress.getAllByName(name)) {
        out.add(bracket(a.getHostAddress()) + ":" + port);
      }
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(
          "spark.nodeshuffle.servers entry '" + entry + "': " + name + " does not resolve", e);
    }
    return out;
  }

  private static void checkHostPort(String hostPort, String entry) {
    int colon = hostPort.lastIndexOf(':');
    boolean ok = colon > 0 && colon < hostPort.length() - 1;
    if (ok) {
      try {
        int port = Integer.parseInt(hostPort.substring(colon + 1));
        ok = port > 0 && port < 65536;
      } catch (NumberFormatException e) {
        ok = false;
      }
    }
    if (!ok) {
      throw new IllegalArgumentException(
          "spark.nodeshuffle.servers entry '" + entry + "': expected HOST:PORT, dns:NAME:PORT or"
              + " DATA_HOST:PORT/CONTROL_HOST:PORT");
    }
  }

  private static String bracket(String host) {
    return host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
  }
}
