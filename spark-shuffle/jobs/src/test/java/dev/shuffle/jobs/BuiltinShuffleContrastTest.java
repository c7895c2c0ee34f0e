package dev.shuffle.jobs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contrast: the same job, cluster and eviction during the map stage with Spark's built-in
 * shuffle. The killed executor's finished map output is gone with it, so Spark runs those maps
 * again: more map tasks than partitions plus the killed running ones (the report shows how many,
 * and the stage attempts). The job still validates.
 */
class BuiltinShuffleContrastTest {
  @TempDir Path work;

  @Test
  void anExecutorKilledDuringTheMapStageCostsItsFinishedMapsToo() throws Exception {
    try (LocalRun run =
        LocalRun.start(work, new LocalRun.Layout(3, 2, 768, false, Map.of()))) {
      Report r = MainJobTest.job(run, Phase.MAP);
      assertTrue(r.validated(), r.text());
      assertTrue(r.evicted(), r.text());
      assertTrue(
          r.mapTaskAttempts() > r.mapPartitions() + r.mapTasksLostWithExecutors()
              || r.stageReruns() > 0,
          "the killed executor's finished maps ran again: " + r.text());
    }
  }
}
