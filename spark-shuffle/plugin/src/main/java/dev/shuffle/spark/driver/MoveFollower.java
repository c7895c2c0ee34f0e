package dev.shuffle.spark.driver;

import dev.shuffle.spark.ServerLocations;
import dev.shuffle.spark.client.NativeControl;
import dev.shuffle.spark.client.NativeControl.MovedOutput;
import dev.shuffle.spark.client.NativeControl.MovedOutputs;
import dev.shuffle.spark.client.ShuffleServiceException;
import java.util.Collection;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.MapOutputTrackerMaster;
import org.apache.spark.ShuffleStatus;
import org.apache.spark.SparkEnv;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.storage.BlockManagerId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;

/**
 * Follows hand-overs (docs/node-loss.md). A server whose node goes away copies its map outputs to
 * peer servers (shufflectl decommission, or SIGTERM on a cordoned node) and, until it exits, tells
 * each application where they went (GetMovedOutputs). Every poll interval this asks the servers
 * that hold the application's outputs, points Spark's map output tracker at the new places
 * ({@code MapOutputTrackerMaster.updateMapOutput} with the peer's synthetic BlockManagerId) and
 * bumps the tracker's epoch, so executors drop the locations they cached. Spark then sees no
 * fetch failure and re-runs no map for the outputs that moved; those that could not be moved
 * fail over to re-runs as before.
 *
 * <p>An output is re-pointed only while Spark still has it at the server that moved it, as the
 * same attempt: a map re-run elsewhere in the meantime keeps its own place. Runs on one
 * background thread; {@link #movesApplied()} may be read from any thread.
 */
final class MoveFollower {
  private static final Logger LOG = LoggerFactory.getLogger(MoveFollower.class);

  /** Called with the peers' control planes, which now hold outputs of the shuffle. */
  interface NewServers {
    void add(int shuffleId, String controlAddress);
  }

  private final long timeoutMs;
  private final String[] tls;
  private final NewServers newServers;
  // "server shuffle map attempt" of the moves already applied (a server repeats them).
  private final Set<String> applied = ConcurrentHashMap.newKeySet();
  private final AtomicLong movesApplied = new AtomicLong();

  MoveFollower(long timeoutMs, String[] tls, NewServers newServers) {
    this.timeoutMs = timeoutMs;
    this.tls = tls;
    this.newServers = newServers;
  }

  /** How many map outputs were re-pointed so far. */
  long movesApplied() {
    return movesApplied.get();
  }

  /** Asks each server once and applies what moved. */
  void poll(Collection<String> servers, NodeShuffleDriverComponents.Application app) {
    SparkEnv env = SparkEnv.get();
    if (env == null || !(env.mapOutputTracker() instanceof MapOutputTrackerMaster)) {
      return;
    }
    MapOutputTrackerMaster master = (MapOutputTrackerMaster) env.mapOutputTracker();
    int repointed = 0;
    for (String server : servers) {
      MovedOutputs moves;
      try {
        moves = NativeControl.movedOutputs(server, timeoutMs, tls, app.appId(), app.token());
      } catch (ShuffleServiceException e) {
        LOG.debug("asking {} for moved map outputs failed: {}", server, e.getMessage());
        continue;
      }
      for (MovedOutput m : moves.moved()) {
        String key = server + " " + m.shuffleId() + " " + m.mapIndex() + " " + m.attempt();
        if (!applied.contains(key) && repoint(master, server, m)) {
          applied.add(key);
          repointed++;
        }
      }
    }
    if (repointed > 0) {
      master.incrementEpoch(); // executors drop the map statuses they cached
      movesApplied.addAndGet(repointed);
      LOG.info("{} map outputs moved by their servers' hand-over: Spark reads them at their new "
          + "places (no re-run)", repointed);
    }
  }

  private boolean repoint(MapOutputTrackerMaster master, String server, MovedOutput m) {
    Option<ShuffleStatus> status = master.shuffleStatuses().get(m.shuffleId());
    if (status.isEmpty()) {
      return false; // removed, or not this application's
    }
    Long mapTaskId =
        status
            .get()
            .withMapStatuses(
                statuses -> {
                  if (m.mapIndex() < 0 || m.mapIndex() >= statuses.length) {
                    return null;
                  }
                  MapStatus s = statuses[m.mapIndex()];
                  if (s == null
                      || !ServerLocations.isServer(s.location())
                      || !ServerLocations.controlAddress(s.location()).equals(Optional.of(server))
                      || (int) s.mapId() != m.attempt()) {
                    return null; // Spark has it elsewhere (a re-run): leave it
                  }
                  return s.mapId();
                });
    if (mapTaskId == null) {
      return false;
    }
    BlockManagerId to = ServerLocations.of(m.node(), m.address(), m.controlAddress());
    master.updateMapOutput(m.shuffleId(), mapTaskId, to);
    if (!m.controlAddress().isEmpty()) {
      newServers.add(m.shuffleId(), m.controlAddress());
    }
    LOG.debug("shuffle {} map {} moved from {} to {}", m.shuffleId(), m.mapIndex(), server,
        m.address());
    return true;
  }
}
