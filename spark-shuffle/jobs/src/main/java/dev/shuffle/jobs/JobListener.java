package dev.shuffle.jobs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.StageInfo;

/**
 * Counts what a Spark application did, from listener events: stage attempts (and those beyond a
 * stage's first), map task attempts (tasks started in shuffle map stages) against map partitions
 * (the tasks of each shuffle map stage's first attempt), map tasks that died with their executor,
 * executors added and removed, tasks running per executor, shuffle bytes and records written. Also keeps what the progress
 * line shows (running stages and their finished tasks)
 * Spark calls it on its listener thread; every method is synchronized, readers may call from
 * any thread. A {@link Trigger} sees each finished task (on the listener thread: it must not
 * block).
 */
public final class JobListener extends SparkListener {
  /** Told of every finished task, after the counts were updated. */
  public interface Trigger {
    void onTaskEnd(JobListener listener, SparkListenerTaskEnd event);
  }

  /** A running stage as the progress line shows it. */
  public record StageProgress(int stageId, int attempt, boolean map, int tasks, int done) {}

  private final Map<Integer, Integer> mapStageTasks = new HashMap<>(); // first attempt's tasks
  private final Set<Integer> mapStageIds = new HashSet<>();
  private final Map<String, StageProgress> running = new LinkedHashMap<>();
  private final Map<Long, String> runningTasks = new HashMap<>(); // task id -> executor
  private final Set<String> executors = new HashSet<>();
  private final Map<String, Integer> mapsDoneByExecutor = new HashMap<>();
  private final List<String> removedExecutors = new ArrayList<>();
  private int stageAttempts;
  private int stageReruns;
  private int mapTaskAttempts;
  private int mapTasksLostWithExecutors;
  private int failedTasks;
  private long shuffleBytesWritten;
  private long shuffleRecordsWritten;
  private volatile Trigger trigger;

  public void setTrigger(Trigger trigger) {
    this.trigger = trigger;
  }

  @Override
  public synchronized void onStageSubmitted(SparkListenerStageSubmitted event) {
    StageInfo info = event.stageInfo();
    stageAttempts++;
    if (info.attemptNumber() > 0) {
      stageReruns++;
    }
    boolean map = info.shuffleDepId().isDefined();
    if (map) {
      mapStageIds.add(info.stageId());
      mapStageTasks.putIfAbsent(info.stageId(), info.numTasks());
    }
    running.put(
        key(info.stageId(), info.attemptNumber()),
        new StageProgress(info.stageId(), info.attemptNumber(), map, info.numTasks(), 0));
  }

  @Override
  public synchronized void onStageCompleted(SparkListenerStageCompleted event) {
    running.remove(key(event.stageInfo().stageId(), event.stageInfo().attemptNumber()));
  }

  @Override
  public void onTaskStart(SparkListenerTaskStart event) {
    synchronized (this) {
      if (mapStageIds.contains(event.stageId())) {
        mapTaskAttempts++;
      }
      runningTasks.put(event.taskInfo().taskId(), event.taskInfo().executorId());
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd event) {
    synchronized (this) {
      boolean map = mapStageIds.contains(event.stageId());
      runningTasks.remove(event.taskInfo().taskId());
      String reason = event.reason().getClass().getSimpleName();
      boolean success = "Success$".equals(reason);
      // Resubmitted: a finished map whose output Spark considers lost; not a new attempt.
      if (!success && !"Resubmitted$".equals(reason)) {
        failedTasks++;
        if (map && event.reason() instanceof ExecutorLostFailure) {
          mapTasksLostWithExecutors++;
        }
      }
      StageProgress p = running.get(key(event.stageId(), event.stageAttemptId()));
      if (map && success) {
        mapsDoneByExecutor.merge(event.taskInfo().executorId(), 1, Integer::sum);
      }
      if (p != null && success) {
        running.put(key(event.stageId(), event.stageAttemptId()),
            new StageProgress(p.stageId(), p.attempt(), p.map(), p.tasks(), p.done() + 1));
      }
      if (success && event.taskMetrics() != null) {
        shuffleBytesWritten += event.taskMetrics().shuffleWriteMetrics().bytesWritten();
        shuffleRecordsWritten += event.taskMetrics().shuffleWriteMetrics().recordsWritten();
      }
    }
    Trigger t = trigger;
    if (t != null) {
      t.onTaskEnd(this, event);
    }
  }

  /** Executors that registered before this listener was added (SparkContext.getExecutorIds). */
  public synchronized void addExecutors(java.util.Collection<String> ids) {
    executors.addAll(ids);
  }

  @Override
  public synchronized void onExecutorAdded(SparkListenerExecutorAdded event) {
    executors.add(event.executorId());
  }

  @Override
  public synchronized void onExecutorRemoved(SparkListenerExecutorRemoved event) {
    if (executors.remove(event.executorId())) {
      removedExecutors.add(event.executorId() + " (" + event.reason() + ")");
    }
  }

  private static String key(int stageId, int attempt) {
    return stageId + "." + attempt;
  }

  /** Stage attempts submitted, re-runs included. */
  public synchronized int stageAttempts() {
    return stageAttempts;
  }

  /** Stage attempts beyond a stage's first (0 when no stage ran again). */
  public synchronized int stageReruns() {
    return stageReruns;
  }

  /** Tasks started in shuffle map stages, re-runs and retries included. */
  public synchronized int mapTaskAttempts() {
    return mapTaskAttempts;
  }

  /** The map partitions: the tasks of every shuffle map stage's first attempt. */
  public synchronized int mapPartitions() {
    return mapStageTasks.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** Map tasks that were running on an executor when it was lost. */
  public synchronized int mapTasksLostWithExecutors() {
    return mapTasksLostWithExecutors;
  }

  /** Task attempts that did not succeed, for any reason. */
  public synchronized int failedTasks() {
    return failedTasks;
  }

  public synchronized long shuffleBytesWritten() {
    return shuffleBytesWritten;
  }

  public synchronized long shuffleRecordsWritten() {
    return shuffleRecordsWritten;
  }

  /** Successful map tasks per executor id. */
  public synchronized Map<String, Integer> mapsDoneByExecutor() {
    return Map.copyOf(mapsDoneByExecutor);
  }

  /** Executors registered now. */
  public synchronized int liveExecutors() {
    return executors.size();
  }

  /** Executors removed (lost, killed or released): "id (Spark's reason)". */
  public synchronized List<String> removedExecutors() {
    return List.copyOf(removedExecutors);
  }

  /** The running stages, oldest first. */
  public synchronized List<StageProgress> runningStages() {
    return List.copyOf(running.values());
  }

  /** Tasks running now per executor id. */
  public synchronized Map<String, Integer> runningTasksByExecutor() {
    Map<String, Integer> out = new HashMap<>();
    runningTasks.values().forEach(e -> out.merge(e, 1, Integer::sum));
    return out;
  }
}
