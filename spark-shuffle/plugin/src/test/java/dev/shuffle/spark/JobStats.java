package dev.shuffle.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.FetchFailed;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * What a test's Spark jobs did, counted from listener events: map (ShuffleMapTask) and reduce
 * task attempts, successful ones, speculative ones, fetch failures, stage attempts beyond the
 * first, and the shuffle bytes and records the task metrics report. reset() between phases.
 * Events arrive on Spark's listener thread; readers call after the bus drained.
 */
final class JobStats extends SparkListener {
  int mapAttempts;
  int mapSuccesses;
  int speculativeMaps;
  int fetchFailures;
  int stageRetries;
  long bytesWritten;
  long recordsWritten;
  long bytesRead;
  long recordsRead;
  final List<String> failures = new ArrayList<>();

  synchronized void reset() {
    mapAttempts = 0;
    mapSuccesses = 0;
    speculativeMaps = 0;
    fetchFailures = 0;
    stageRetries = 0;
    bytesWritten = 0;
    recordsWritten = 0;
    bytesRead = 0;
    recordsRead = 0;
    failures.clear();
  }

  @Override
  public synchronized void onStageSubmitted(SparkListenerStageSubmitted event) {
    if (event.stageInfo().attemptNumber() > 0) {
      stageRetries++;
    }
  }

  @Override
  public synchronized void onTaskEnd(SparkListenerTaskEnd event) {
    boolean success = event.reason() == Success$.MODULE$;
    if (event.reason() instanceof FetchFailed) {
      fetchFailures++;
    }
    if (!success) {
      failures.add(event.taskType() + " " + event.reason());
    }
    if ("ShuffleMapTask".equals(event.taskType())) {
      mapAttempts++;
      if (event.taskInfo().speculative()) {
        speculativeMaps++;
      }
      if (success) {
        mapSuccesses++;
      }
    }
    if (success && event.taskMetrics() != null) {
      bytesWritten += event.taskMetrics().shuffleWriteMetrics().bytesWritten();
      recordsWritten += event.taskMetrics().shuffleWriteMetrics().recordsWritten();
      bytesRead += event.taskMetrics().shuffleReadMetrics().totalBytesRead();
      recordsRead += event.taskMetrics().shuffleReadMetrics().recordsRead();
    }
  }

  @Override
  public synchronized String toString() {
    return "map attempts " + mapAttempts + " (" + mapSuccesses + " ok, " + speculativeMaps
        + " speculative), fetch failures " + fetchFailures + ", stage retries " + stageRetries
        + ", failures " + failures;
  }
}
