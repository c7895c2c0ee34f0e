package dev.shuffle.spark.read;

import dev.shuffle.spark.ServerLocations;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.ShuffleBlockId;
import scala.Tuple2;
import scala.Tuple3;
import scala.collection.Iterator;
import scala.collection.Seq;

/**
 * The maps a reduce task reads, as Spark's map output tracker registered them: for each map
 * (index) the server holding it and the task attempt whose output Spark chose. Spark lists only
 * maps with data in the task's partitions. A plain value; not thread-safe while being built.
 */
final class MapRefs {
  /**
   * One map: where Spark has it (the location a fetch failure names), its second copy if it has
   * one, and which attempt to read.
   */
  record MapRef(
      int mapIndex, long mapTaskId, BlockManagerId location, Optional<BlockManagerId> replica) {
    /** The attempt as the service stores it (the low 32 bits of Spark's task attempt id). */
    int attempt() {
      return (int) mapTaskId;
    }

    /** The data address to read from: the replica's once the primary was found gone. */
    String readAddress() {
      String primary = ServerLocations.dataAddress(location);
      return replica.isPresent() && LostServers.contains(primary)
          ? ServerLocations.dataAddress(replica.get())
          : primary;
    }
  }

  private final Map<Integer, MapRef> byMap = new LinkedHashMap<>();
  // Where each map is being read from, as the last reader was opened (readAddresses()).
  private final Map<Integer, String> reading = new LinkedHashMap<>();

  /** From getMapSizesByExecutorId's answer. */
  static MapRefs from(Iterator<Tuple2<BlockManagerId, Seq<Tuple3<BlockId, Object, Object>>>> it) {
    MapRefs refs = new MapRefs();
    while (it.hasNext()) {
      Tuple2<BlockManagerId, Seq<Tuple3<BlockId, Object, Object>>> byLocation = it.next();
      BlockManagerId location = byLocation._1();
      if (!ServerLocations.isServer(location)) {
        throw new IllegalStateException(
            "map output at " + location + " was not written by the node shuffle service: every"
                + " executor of the application must use dev.shuffle.spark.NodeShuffleManager");
      }
      Iterator<Tuple3<BlockId, Object, Object>> blocks = byLocation._2().iterator();
      while (blocks.hasNext()) {
        Tuple3<BlockId, Object, Object> block = blocks.next();
        ShuffleBlockId id = (ShuffleBlockId) block._1();
        int mapIndex = (Integer) block._3();
        refs.byMap.putIfAbsent(
            mapIndex,
            new MapRef(mapIndex, id.mapId(), location, ServerLocations.replica(location)));
      }
    }
    return refs;
  }

  List<MapRef> all() {
    return new ArrayList<>(byMap.values());
  }

  boolean isEmpty() {
    return byMap.isEmpty();
  }

  /** The data address to read each map of all() from now, remembered for readFrom(). */
  String[] readAddresses() {
    List<MapRef> refs = all();
    String[] out = new String[refs.size()];
    for (int i = 0; i < refs.size(); i++) {
      out[i] = refs.get(i).readAddress();
      reading.put(refs.get(i).mapIndex(), out[i]);
    }
    return out;
  }

  /** The maps the last readAddresses() reads from data-plane {@code address}. */
  List<MapRef> readFrom(String address) {
    List<MapRef> out = new ArrayList<>();
    for (MapRef ref : byMap.values()) {
      if (address.equals(reading.get(ref.mapIndex()))) {
        out.add(ref);
      }
    }
    return out;
  }
}
