package dev.shuffle.spark.driver;

import dev.shuffle.spark.ServerLocations;
import dev.shuffle.spark.replica.ServerAddress;
import java.util.LinkedHashSet;
import java.util.Set;
import org.apache.spark.MapOutputTracker;
import org.apache.spark.MapOutputTrackerMaster;
import org.apache.spark.ShuffleStatus;
import org.apache.spark.SparkEnv;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.storage.BlockManagerId;
import scala.Option;

/**
 * Tells the driver components when a shuffle's map stage completed, with the control planes of
 * the servers that hold its outputs and their replicas, and the servers' addresses (read from Spark's map output tracker, which is the source
 * of truth for where each map's output is). Runs on Spark's listener bus thread.
 */
final class MapStageListener extends SparkListener {
  private final NodeShuffleDriverComponents components;

  MapStageListener(NodeShuffleDriverComponents components) {
    this.components = components;
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted event) {
    StageInfo info = event.stageInfo();
    if (info.shuffleDepId().isEmpty() || info.failureReason().isDefined()) {
      return;
    }
    int shuffleId = (Integer) info.shuffleDepId().get();
    SparkEnv env = SparkEnv.get();
    if (env == null) {
      return;
    }
    MapOutputTracker tracker = env.mapOutputTracker();
    if (!(tracker instanceof MapOutputTrackerMaster master)) {
      return;
    }
    Option<ShuffleStatus> status = master.shuffleStatuses().get(shuffleId);
    if (status.isEmpty()) {
      return;
    }
    Set<String> servers =
        status
            .get()
            .withMapStatuses(
                statuses -> {
                  Set<String> out = new LinkedHashSet<>();
                  for (MapStatus s : statuses) {
                    if (s != null && ServerLocations.isServer(s.location())) {
                      learn(s.location(), out);
                      ServerLocations.replica(s.location()).ifPresent(r -> learn(r, out));
                    }
                  }
                  return out;
                });
    if (!servers.isEmpty()) {
      components.mapStageDone(shuffleId, servers);
    }
  }

  // A server that holds output (a copy): its control plane for the shuffle, and its addresses
  // for the replicas of shuffles registered later.
  private void learn(BlockManagerId location, Set<String> controls) {
    ServerLocations.controlAddress(location)
        .ifPresent(
            control -> {
              controls.add(control);
              components.learnServer(
                  new ServerAddress(ServerLocations.dataAddress(location), control));
            });
  }
}
