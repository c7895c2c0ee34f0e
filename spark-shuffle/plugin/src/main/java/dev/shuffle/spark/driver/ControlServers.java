package dev.shuffle.spark.driver;

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
 * such as the DaemonSet's headless Service, resolved at each use so that new nodes are seen);
 * without any, the node-local server: $SHUFFLE_CONTROL_ADDRESS, else $SHUFFLE_NODE_IP:7338, else
 * 127.0.0.1:7338. Pure functions; thread-safe.
 */
public final class ControlServers {
  public static final int DEFAULT_CONTROL_PORT = 7338;

  private ControlServers() {}

  /** The configured servers, resolved now; the node-local default when none is configured. */
  public static List<String> resolve(List<String> configured, Map<String, String> env) {
    Set<String> out = new LinkedHashSet<>();
    if (configured.isEmpty()) {
      out.add(localDefault(env));
    }
    for (String entry : configured) {
      if (entry.startsWith("dns:")) {
        out.addAll(resolveDns(entry));
      } else {
        checkHostPort(entry, entry);
        out.add(entry);
      }
    }
    return new ArrayList<>(out);
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
          "spark.nodeshuffle.servers entry '" + entry + "': expected HOST:PORT or dns:NAME:PORT");
    }
  }

  private static String bracket(String host) {
    return host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
  }
}
