package dev.shuffle.jobs;

import java.util.List;
import java.util.Locale;

/**
 * What one run of the main job did: the counts of its {@link JobListener}, the evictions, the
 * time and the validation against the generator. {@link #ok} when the result validated and the
 * asked-for eviction happened. A plain value.
 */
public record Report(
    String shuffle,
    long sizeBytes,
    long rows,
    int maps,
    int partitions,
    Phase evictDuring,
    double seconds,
    int mapPartitions,
    int mapTaskAttempts,
    int mapTasksLostWithExecutors,
    int stageAttempts,
    int stageReruns,
    int failedTasks,
    List<String> evictions,
    List<String> executorsRemoved,
    long shuffleBytesWritten,
    String validationError) {

  /** Whether the query's result equals the totals computed from the generator. */
  public boolean validated() {
    return validationError.isEmpty();
  }

  /** Whether the eviction asked for happened (always true without one). */
  public boolean evicted() {
    return evictDuring == Phase.NONE
        || (evictions.size() == 1 && !evictions.get(0).contains(": FAILED"));
  }

  public boolean ok() {
    return validated() && evicted();
  }

  static String bytes(long n) {
    if (n >= 1L << 30) {
      return String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30));
    }
    return String.format(Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
  }

  /** The report as printed: one fact per line. */
  public String text() {
    StringBuilder b = new StringBuilder();
    line(b, "job", String.format(Locale.ROOT,
        "orders joined with customers, totalled per region (Spark SQL); %s generated"
            + " (%,d rows), %d map partitions, %d shuffle partitions",
        bytes(sizeBytes), rows, maps, partitions));
    line(b, "shuffle", shuffle);
    line(b, "time", String.format(Locale.ROOT, "%.1f s", seconds));
    line(b, "map tasks", String.format(Locale.ROOT,
        "%d run for %d map partitions (%d lost with their executor while running)",
        mapTaskAttempts, mapPartitions, mapTasksLostWithExecutors));
    line(b, "stage attempts", stageAttempts + " (" + stageReruns + " beyond a stage's first)");
    line(b, "failed tasks", Integer.toString(failedTasks));
    line(b, "evicted", evictDuring == Phase.NONE ? "none asked"
        : evictions.isEmpty() ? "NOT DONE: the " + evictDuring.label()
            + " stage ended before the eviction point"
        : String.join("; ", evictions));
    line(b, "executors removed", executorsRemoved.isEmpty() ? "none"
        : executorsRemoved.size() + ": " + String.join("; ", executorsRemoved));
    line(b, "shuffle written", bytes(shuffleBytesWritten));
    line(b, "validation", validated()
        ? "OK: " + OrdersData.REGIONS + " region totals equal those computed from the generator"
        : "FAILED: " + validationError);
    return b.toString();
  }

  private static void line(StringBuilder b, String name, String value) {
    b.append(String.format(Locale.ROOT, "%-18s %s%n", name, value));
  }
}
