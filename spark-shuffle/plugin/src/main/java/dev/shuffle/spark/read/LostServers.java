package dev.shuffle.spark.read;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The servers a reader of this executor found gone (unreachable after the library's retries, or
 * without their data), by data address, for a while: later readers in the process read the maps
 * that have a replica from it at once, instead of waiting through the retries again. Forgotten
 * after {@link #FORGET_AFTER_MS}, so a server that came back is read from again. Thread-safe.
 */
final class LostServers {
  static final long FORGET_AFTER_MS = 10 * 60_000L;
  private static final Map<String, Long> LOST_AT = new ConcurrentHashMap<>();

  private LostServers() {}

  static void add(String dataAddress) {
    LOST_AT.put(dataAddress, System.currentTimeMillis());
  }

  static boolean contains(String dataAddress) {
    Long at = LOST_AT.get(dataAddress);
    if (at == null) {
      return false;
    }
    if (System.currentTimeMillis() - at > FORGET_AFTER_MS) {
      LOST_AT.remove(dataAddress, at);
      return false;
    }
    return true;
  }
}
