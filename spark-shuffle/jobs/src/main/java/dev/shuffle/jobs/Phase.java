package dev.shuffle.jobs;

import java.util.Locale;

/** When the main job evicts an executor. */
public enum Phase {
  /** No eviction. */
  NONE,
  /** When half of the orders' map tasks finished (mid-job: the map stage). */
  MAP,
  /** When half of the tasks of the stage after the map stage (reading its shuffle) finished. */
  REDUCE;

  public static Phase parse(String s) {
    try {
      return valueOf(s.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--evict-during takes map, reduce or none, not '" + s + "'");
    }
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
