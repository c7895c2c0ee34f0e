package dev.shuffle.spark.replica;

import java.io.Serializable;

/**
 * A shuffle server as the driver knows it: its data plane ("host:port", where executors push and
 * read) and its control plane ("host:port"). A server's control plane is at its advertised data
 * host, so the data host names its node. A plain value; thread-safe.
 */
public record ServerAddress(String data, String control) implements Serializable {
  /** The data plane's host (an IPv6 host keeps its brackets). */
  public String host() {
    return hostOf(data);
  }

  /** The host of a "host:port" address; "" for a Unix socket or an address without a port. */
  public static String hostOf(String address) {
    int colon = address.lastIndexOf(':');
    if (address.startsWith("unix:") || colon <= 0) {
      return "";
    }
    return address.substring(0, colon);
  }
}
