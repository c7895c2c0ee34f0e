package dev.shuffle.spark.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReplicaChoiceTest {
  private static final ServerAddress A = new ServerAddress("10.0.0.1:7340", "10.0.0.1:7338");
  private static final ServerAddress B = new ServerAddress("10.0.0.2:7340", "10.0.0.2:7338");
  private static final ServerAddress C = new ServerAddress("10.0.0.3:7340", "10.0.0.3:7338");

  @Test
  void theReplicaIsNeverOnTheMapsOwnNodeAndMapsTakeTheOtherNodesInTurn() {
    Map<ServerAddress, Integer> counts = new HashMap<>();
    for (int map = 0; map < 100; map++) {
      ServerAddress r = ReplicaChoice.choose(List.of(A, B, C), "10.0.0.1", map, 0).orElseThrow();
      assertNotEquals(A, r);
      counts.merge(r, 1, Integer::sum);
    }
    assertEquals(Map.of(B, 50, C, 50), counts);
  }

  @Test
  void theChoiceDependsNeitherOnTheListsOrderNorOnDuplicates() {
    for (int map = 0; map < 10; map++) {
      assertEquals(
          ReplicaChoice.choose(List.of(A, B, C), "10.0.0.2", map, 1),
          ReplicaChoice.choose(List.of(C, C, A, B), "10.0.0.2", map, 1));
    }
  }

  @Test
  void aRetriedAttemptTakesAnotherReplica() {
    Optional<ServerAddress> first = ReplicaChoice.choose(List.of(A, B, C), "10.0.0.1", 4, 0);
    Optional<ServerAddress> retry = ReplicaChoice.choose(List.of(A, B, C), "10.0.0.1", 4, 1);
    assertTrue(first.isPresent() && retry.isPresent());
    assertNotEquals(first, retry);
  }

  @Test
  void withNoServerOnAnotherNodeThereIsNoReplica() {
    assertEquals(Optional.empty(), ReplicaChoice.choose(List.of(A), "10.0.0.1", 0, 0));
    assertEquals(Optional.empty(), ReplicaChoice.choose(List.of(), "10.0.0.1", 0, 0));
    assertEquals(Optional.of(B), ReplicaChoice.choose(List.of(A, B), "10.0.0.1", 7, 3));
  }

  @Test
  void theOwnHostComesFromWhatIsKnownBestFirst() {
    assertEquals("10.0.0.9", ReplicaChoice.ownHost("10.0.0.9:7340", "", Map.of(), "exec"));
    assertEquals("10.0.0.8", ReplicaChoice.ownHost("", "10.0.0.8:7340", Map.of(), "exec"));
    assertEquals("exec", ReplicaChoice.ownHost("", "unix:/run/shuffle/data.sock", Map.of(), "exec"));
    assertEquals(
        "10.0.0.7",
        ReplicaChoice.ownHost("", "", Map.of("SHUFFLE_SERVER_ADDRESS", "10.0.0.7:7340"), "exec"));
    assertEquals(
        "[fd00::6]", ReplicaChoice.ownHost("", "", Map.of("SHUFFLE_NODE_IP", "fd00::6"), "exec"));
    assertEquals("exec", ReplicaChoice.ownHost("", "", Map.of(), "exec"));
  }
}
