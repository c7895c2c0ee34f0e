package dev.shuffle.jobs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Evicts one executor when the job reaches a {@link Phase}: half of the orders' map tasks done
 * (MAP), or half of the tasks of the first stage submitted after the map stage done (REDUCE, the
 * stage that reads the orders' shuffle). It
 * picks, among the executors that finished map tasks, the one running the most tasks at that
 * moment (so that the eviction costs running work and finished map output, as a real one does;
 * in the map stage it waits for the next finished task until there is such an executor) and
 * calls the {@link Evictor} on a thread of its own. Thread-safe.
 */
final class EvictionTrigger implements JobListener.Trigger {
  private final Phase phase;
  private final int maps;
  private final String appId;
  private final Evictor evictor;
  private final List<String> evictions = new ArrayList<>();
  private Integer mapStage;
  private boolean fired;
  private Thread thread;

  EvictionTrigger(Phase phase, int maps, String appId, Evictor evictor) {
    this.phase = phase;
    this.maps = maps;
    this.appId = appId;
    this.evictor = evictor;
  }

  @Override
  public synchronized void onTaskEnd(JobListener listener, SparkListenerTaskEnd event) {
    if (fired || phase == Phase.NONE) {
      return;
    }
    List<JobListener.StageProgress> stages = listener.runningStages();
    if (mapStage == null) {
      for (JobListener.StageProgress s : stages) {
        if (s.map() && s.tasks() == maps && s.attempt() == 0) {
          mapStage = s.stageId();
        }
      }
    }
    if (mapStage == null) {
      return;
    }
    boolean mapStageRunning = false;
    JobListener.StageProgress reduce = null;
    for (JobListener.StageProgress s : stages) {
      if (s.stageId() == mapStage) {
        mapStageRunning = true;
        if (phase == Phase.MAP && s.done() * 2 >= s.tasks()) {
          fire(listener, s);
          return;
        }
      } else if (s.stageId() > mapStage && (reduce == null || s.stageId() < reduce.stageId())) {
        reduce = s;
      }
    }
    // The reduce stage: the first submitted after the map stage ended (with adaptive execution
    // each stage is a job of its own, so Spark's parent ids do not name the map stage).
    if (phase == Phase.REDUCE && !mapStageRunning && reduce != null
        && reduce.done() * 2 >= reduce.tasks()) {
      fire(listener, reduce);
    }
  }

  private void fire(JobListener listener, JobListener.StageProgress stage) {
    Map<String, Integer> running = listener.runningTasksByExecutor();
    // The victim holds finished map output as well as running tasks, so that its loss is the
    // real case: Spark's built-in shuffle loses that output with it, the service keeps it.
    Map<String, Integer> done = listener.mapsDoneByExecutor();
    List<Map.Entry<String, Integer>> candidates =
        running.entrySet().stream().filter(e -> done.getOrDefault(e.getKey(), 0) > 0).toList();
    if (candidates.isEmpty() && phase == Phase.REDUCE) {
      candidates = List.copyOf(running.entrySet());
    }
    if (candidates.isEmpty()) {
      return; // between waves, or no such executor yet: try again at the next finished task
    }
    fired = true;
    Map.Entry<String, Integer> victim =
        candidates.stream().max(Comparator.comparingInt(Map.Entry::getValue)).get();
    String what =
        "executor " + victim.getKey() + " during the " + phase.label() + " stage (stage "
            + stage.stageId() + ", " + stage.done() + "/" + stage.tasks() + " tasks done, "
            + victim.getValue() + " running on it)";
    thread =
        new Thread(
            () -> {
              String outcome;
              try {
                outcome = evictor.evict(appId, victim.getKey());
              } catch (Exception e) {
                outcome = "FAILED: " + e.getMessage();
              }
              synchronized (EvictionTrigger.this) {
                evictions.add(what + ": " + outcome);
              }
            },
            "evict-executor-" + victim.getKey());
    thread.setDaemon(true);
    thread.start();
  }

  /** The evictions done (each "executor N during ...: how"), after {@link #await}. */
  synchronized List<String> evictions() {
    return List.copyOf(evictions);
  }

  /** Whether the eviction was attempted and did not fail. */
  synchronized boolean succeeded() {
    return evictions.size() == 1 && !evictions.get(0).contains(": FAILED");
  }

  /** Waits for the evicting thread (bounded: the evictor's own calls are). */
  void await() throws InterruptedException {
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null) {
      t.join(120_000);
    }
  }
}
