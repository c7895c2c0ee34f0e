package dev.shuffle.spark.driver;

import dev.shuffle.spark.ServerLocations;
import dev.shuffle.spark.client.NativeControl;
import dev.shuffle.spark.client.NativeOptions;
import dev.shuffle.spark.client.NativeReader;
import dev.shuffle.spark.client.ShuffleServiceException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import scala.Tuple2;

/**
 * Fails over to second copies (spark.nodeshuffle.replicas=2, docs/node-loss.md). Every poll
 * interval it probes the control plane of each server that holds outputs with a replica, as
 * Spark's map output tracker has them; a server that does not answer two polls in a row (refused,
 * or silent past the probe's deadline) is lost. Each of its outputs whose replica server holds
 * that very attempt (checked with one lookup per replica server and shuffle) is re-pointed there
 * ({@code MapOutputTrackerMaster.updateMapOutput}), then the tracker's epoch is bumped so that
 * executors drop the locations they cached. Spark sees no fetch failure and re-runs none of
 * these maps; outputs without a live replica are left to Spark's fetch failures and re-runs.
 *
 * <p>Runs on the driver components' poll thread; {@link #repointed()} and {@link #isLost} may be
 * called from any thread.
 */
final class ReplicaFollower {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicaFollower.class);
  private static final int LOST_AFTER = 2;
  private static final long PROBE_TIMEOUT_MS = 2000;
  private static final long CHECK_TIMEOUT_MS = 10_000;

  /** One output Spark has at a server, with its replica. */
  private record Held(int shuffleId, int mapIndex, long mapTaskId, BlockManagerId replica) {}

  private final long probeTimeoutMs;
  private final NativeOptions options;
  private final Map<String, Integer> failedProbes = new ConcurrentHashMap<>();
  private final Set<String> lost = ConcurrentHashMap.newKeySet();
  private final Map<Integer, Integer> partitions = new ConcurrentHashMap<>();
  private final AtomicLong repointed = new AtomicLong();

  ReplicaFollower(long controlTimeoutMs, NativeOptions options) {
    this.probeTimeoutMs = Math.min(controlTimeoutMs, PROBE_TIMEOUT_MS);
    this.options = options;
  }

  /** How many outputs were re-pointed to their replicas so far. */
  long repointed() {
    return repointed.get();
  }

  /** Whether the server with this control address was found lost (and has not answered since). */
  boolean isLost(String controlAddress) {
    return lost.contains(controlAddress);
  }

  /** The reduce partitions of a shuffle, for the lookups that check a replica. */
  void shuffleRegistered(int shuffleId, int numPartitions) {
    partitions.put(shuffleId, numPartitions);
  }

  /** Probes the servers once and fails over those lost; returns the lost servers. */
  Set<String> poll(NodeShuffleDriverComponents.Application app) {
    SparkEnv env = SparkEnv.get();
    if (env == null || !(env.mapOutputTracker() instanceof MapOutputTrackerMaster master)) {
      return Set.of();
    }
    Map<String, List<Held>> byServer = heldWithReplicas(master);
    Set<String> servers = new java.util.LinkedHashSet<>(byServer.keySet());
    servers.addAll(lost); // a lost server that answers again is no longer lost
    int moved = 0;
    for (String server : servers) {
      if (answers(server)) {
        failedProbes.remove(server);
        if (lost.remove(server)) {
          LOG.info("the shuffle server at {} answers again", server);
        }
        continue;
      }
      if (failedProbes.merge(server, 1, Integer::sum) < LOST_AFTER) {
        continue;
      }
      if (lost.add(server)) {
        LOG.warn("the shuffle server at {} does not answer: its map outputs fail over to their"
            + " replicas", server);
      }
      moved += failOver(master, server, byServer.getOrDefault(server, List.of()), app);
    }
    if (moved > 0) {
      master.incrementEpoch(); // executors drop the map statuses they cached
      repointed.addAndGet(moved);
    }
    return Set.copyOf(lost);
  }

  private boolean answers(String server) {
    try {
      NativeControl.probe(server, probeTimeoutMs, options.tlsArray());
      return true;
    } catch (ShuffleServiceException e) {
      return e.code() != ShuffleServiceException.UNAVAILABLE
          && e.code() != ShuffleServiceException.DEADLINE_EXCEEDED;
    }
  }

  // The outputs with a replica, by the control address of the server Spark has them at.
  private static Map<String, List<Held>> heldWithReplicas(MapOutputTrackerMaster master) {
    Map<String, List<Held>> out = new LinkedHashMap<>();
    scala.collection.Iterator<Tuple2<Object, ShuffleStatus>> it =
        master.shuffleStatuses().iterator();
    while (it.hasNext()) {
      Tuple2<Object, ShuffleStatus> entry = it.next();
      int shuffleId = (Integer) entry._1();
      entry
          ._2()
          .withMapStatuses(
              statuses -> {
                for (int i = 0; i < statuses.length; i++) {
                  MapStatus s = statuses[i];
                  if (s == null || !ServerLocations.isServer(s.location())) {
                    continue;
                  }
                  Optional<String> control = ServerLocations.controlAddress(s.location());
                  Optional<BlockManagerId> replica = ServerLocations.replica(s.location());
                  if (control.isPresent() && replica.isPresent()) {
                    out.computeIfAbsent(control.get(), k -> new ArrayList<>())
                        .add(new Held(shuffleId, i, s.mapId(), replica.get()));
                  }
                }
                return null;
              });
    }
    return out;
  }

  private int failOver(
      MapOutputTrackerMaster master,
      String server,
      List<Held> held,
      NodeShuffleDriverComponents.Application app) {
    Map<String, List<Held>> byReplica = new LinkedHashMap<>();
    for (Held h : held) {
      byReplica
          .computeIfAbsent(h.shuffleId() + " " + ServerLocations.dataAddress(h.replica()),
              k -> new ArrayList<>())
          .add(h);
    }
    int moved = 0;
    for (List<Held> group : byReplica.values()) {
      List<Held> present = holds(group, app) ? group : new ArrayList<>();
      if (present.isEmpty() && group.size() > 1) {
        for (Held h : group) { // which of them the replica lacks
          if (holds(List.of(h), app)) {
            present.add(h);
          }
        }
      }
      for (Held h : present) {
        if (stillAt(master, server, h)) {
          master.updateMapOutput(h.shuffleId(), h.mapTaskId(), h.replica());
          moved++;
        }
      }
      if (present.size() < group.size()) {
        LOG.warn("{} of {} outputs of shuffle {} at {} have no copy on their replica {}: Spark"
            + " re-runs them when a reader fails to fetch them", group.size() - present.size(),
            group.size(), group.get(0).shuffleId(), server,
            ServerLocations.dataAddress(group.get(0).replica()));
      }
    }
    if (moved > 0) {
      LOG.info("{} map outputs of the lost shuffle server at {} are read from their replicas"
          + " (no re-run)", moved, server);
    }
    return moved;
  }

  // Whether the replica server holds every listed attempt: a reader of partition 0 asks it
  // first (a lookup) and fails with NOT_FOUND for an attempt it lacks.
  private boolean holds(List<Held> group, NodeShuffleDriverComponents.Application app) {
    int shuffleId = group.get(0).shuffleId();
    int numPartitions = partitions.getOrDefault(shuffleId, 0);
    if (numPartitions <= 0) {
      return false;
    }
    String[] addresses = new String[group.size()];
    int[] maps = new int[group.size()];
    int[] attempts = new int[group.size()];
    for (int i = 0; i < group.size(); i++) {
      addresses[i] = ServerLocations.dataAddress(group.get(i).replica());
      maps[i] = group.get(i).mapIndex();
      attempts[i] = (int) group.get(i).mapTaskId();
    }
    long deadline = System.nanoTime() + CHECK_TIMEOUT_MS * 1_000_000L;
    try (NativeReader reader =
        NativeReader.open(app.appId(), app.token(), shuffleId, numPartitions, 0, 1, addresses,
            maps, attempts, options)) {
      for (;;) {
        ByteBuffer block = reader.nextBlock(200);
        if (block == null || block.capacity() > 0) {
          return true; // the lookup succeeded: blocks flow, or there are none
        }
        if (System.nanoTime() > deadline) {
          return false;
        }
      }
    } catch (ShuffleServiceException e) {
      LOG.debug("replica check on {} failed: {}", addresses[0], e.getMessage());
      return false;
    }
  }

  // Whether Spark still has the output at `server` as the same attempt (not re-run meanwhile).
  private static boolean stillAt(MapOutputTrackerMaster master, String server, Held h) {
    scala.Option<ShuffleStatus> status = master.shuffleStatuses().get(h.shuffleId());
    if (status.isEmpty()) {
      return false;
    }
    return status
        .get()
        .withMapStatuses(
            statuses -> {
              MapStatus s = h.mapIndex() < statuses.length ? statuses[h.mapIndex()] : null;
              return s != null
                  && s.mapId() == h.mapTaskId()
                  && ServerLocations.controlAddress(s.location()).equals(Optional.of(server));
            });
  }
}
