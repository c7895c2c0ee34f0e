package dev.shuffle.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job on a standalone cluster of 3 simulated nodes, each with its own shuffle-server,
 * with the plugin: an executor SIGKILLed during the map stage, then during the reduce stage. The
 * job validates, no stage runs twice, and the map tasks that ran are exactly the map partitions
 * plus those that were running on the killed executor.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MainJobTest {
  static final MainJob.Options SMALL =
      MainJob.Options.defaults().withSize(48L << 20).withMaps(12).withPartitions(6)
          .withProgress(false);

  @TempDir static Path work;
  private LocalRun run;

  @BeforeAll
  void start() throws Exception {
    run = LocalRun.start(work, new LocalRun.Layout(3, 2, 768, true, Map.of()));
  }

  @AfterAll
  void stop() throws Exception {
    if (run != null) {
      run.close();
    }
  }

  /** Runs the job once the cluster has its 3 executors again (a killed one is relaunched). */
  static Report job(LocalRun run, Phase phase) throws InterruptedException {
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (run.spark().sparkContext().getExecutorIds().size() < 3) {
      assertTrue(System.nanoTime() < deadline, "3 executors did not register: " + run.logs());
      Thread.sleep(200);
    }
    Report r = run.runJob(SMALL.withEviction(phase), System.out, false);
    System.out.print(r.text());
    return r;
  }

  private void assertNoRerun(Report r) {
    assertTrue(r.validated(), r.text());
    assertTrue(r.evicted(), r.text());
    assertEquals(0, r.stageReruns(), r.text());
    assertEquals(r.mapPartitions() + r.mapTasksLostWithExecutors(), r.mapTaskAttempts(),
        r.text());
    assertEquals(1, r.executorsRemoved().size(), r.text());
  }

  @Test
  void anExecutorKilledDuringTheMapStageCostsOnlyItsRunningMaps() throws Exception {
    Report r = job(run, Phase.MAP);
    assertNoRerun(r);
    assertTrue(r.mapTasksLostWithExecutors() >= 1, r.text());
  }

  @Test
  void anExecutorKilledDuringTheReduceStageCostsNoMap() throws Exception {
    assertNoRerun(job(run, Phase.REDUCE));
  }
}
