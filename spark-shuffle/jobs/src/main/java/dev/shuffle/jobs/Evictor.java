package dev.shuffle.jobs;

import java.util.Optional;
import org.apache.spark.SparkContext;

/**
 * Takes one executor away from a running application, as a node under pressure does to an
 * executor pod. Implementations: {@link #sparkKill} (through Spark's cluster manager, e.g. a
 * graceful pod delete on Kubernetes), {@link #processKill} (SIGKILL of the executor's JVM on this
 * machine: the standalone cluster of tools/run), or a test's own (the Eviction API). Called from
 * a thread of its own, never Spark's listener thread.
 */
@FunctionalInterface
public interface Evictor {
  /** Evicts executor {@code executorId} of application {@code appId}; returns how. */
  String evict(String appId, String executorId) throws Exception;

  /** Asks Spark's cluster manager to kill the executor (SparkContext.killExecutor). */
  static Evictor sparkKill(SparkContext sc) {
    return (appId, executorId) -> {
      if (!sc.killExecutor(executorId)) {
        throw new IllegalStateException("Spark refused to kill executor " + executorId);
      }
      return "killed through Spark's cluster manager";
    };
  }

  /**
   * SIGKILLs the executor's JVM on this machine (a standalone worker's executor: its command
   * line names the application and the executor id).
   */
  static Evictor processKill() {
    return (appId, executorId) -> {
      Optional<ProcessHandle> process =
          ProcessHandle.allProcesses()
              .filter(
                  p -> {
                    String line = p.info().commandLine().orElse("");
                    return line.contains("CoarseGrainedExecutorBackend")
                        && line.contains(" --executor-id " + executorId + " ")
                        && line.contains(" --app-id " + appId + " ");
                  })
              .findFirst();
      if (process.isEmpty()) {
        throw new IllegalStateException(
            "no executor JVM with --executor-id " + executorId + " --app-id " + appId
                + " runs on this machine");
      }
      process.get().destroyForcibly();
      return "SIGKILL of pid " + process.get().pid();
    };
  }
}
