package dev.shuffle.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.BlockManagerId$;
import org.junit.jupiter.api.Test;
import scala.Option;

class ServerLocationsTest {
  @Test
  void aServerLocationRoundTrips() {
    BlockManagerId id = ServerLocations.of("node-7", "10.0.0.7:7340", "10.0.0.7:7338");
    assertTrue(ServerLocations.isServer(id));
    assertEquals("nodeshuffle:node-7", id.executorId());
    assertEquals("10.0.0.7:7340", ServerLocations.dataAddress(id));
    assertEquals(Optional.of("10.0.0.7:7338"), ServerLocations.controlAddress(id));
    assertEquals(id, ServerLocations.of("node-7", "10.0.0.7:7340", "10.0.0.7:7338"));
    BlockManagerId v6 = ServerLocations.of("n", "[fd00::7]:7340", "");
    assertEquals("[fd00::7]:7340", ServerLocations.dataAddress(v6));
    assertEquals(Optional.empty(), ServerLocations.controlAddress(v6));
  }

  @Test
  void executorsAreNotServers() {
    BlockManagerId executor = BlockManagerId$.MODULE$.apply("3", "10.0.0.9", 4040, Option.empty());
    assertFalse(ServerLocations.isServer(executor));
  }

  @Test
  void aSocketAddressIsRefusedWithAHint() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ServerLocations.of("n", "unix:/run/shuffle/data.sock", ""));
    assertTrue(e.getMessage().contains("--advertise-address"), e.getMessage());
  }
  @Test
  void aReplicaTravelsInTheLocation() {
    BlockManagerId id =
        ServerLocations.of(
            "node-7", "10.0.0.7:7340", "10.0.0.7:7338", "node-8", "10.0.0.8:7340", "10.0.0.8:7338");
    assertEquals("nodeshuffle:node-7", id.executorId());
    assertEquals(Optional.of("10.0.0.7:7338"), ServerLocations.controlAddress(id));
    assertEquals(
        Optional.of(ServerLocations.of("node-8", "10.0.0.8:7340", "10.0.0.8:7338")),
        ServerLocations.replica(id));
    assertEquals(
        Optional.empty(),
        ServerLocations.replica(ServerLocations.of("node-7", "10.0.0.7:7340", "10.0.0.7:7338")));
    BlockManagerId v6 = ServerLocations.of("n", "[fd00::7]:7340", "", "m", "[fd00::8]:7340", "");
    assertEquals(Optional.empty(), ServerLocations.controlAddress(v6));
    assertEquals("[fd00::8]:7340", ServerLocations.dataAddress(ServerLocations.replica(v6).get()));
  }
}
