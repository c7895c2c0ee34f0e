package dev.shuffle.spark.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shuffle.spark.replica.ServerAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ControlServersTest {
  @Test
  void withoutConfigurationTheNodeLocalServer() {
    assertEquals(List.of("127.0.0.1:7338"), ControlServers.resolve(List.of(), Map.of()));
    assertEquals(
        List.of("10.1.2.3:7338"),
        ControlServers.resolve(List.of(), Map.of("SHUFFLE_NODE_IP", "10.1.2.3")));
    assertEquals(
        List.of("[fd00::1]:7338"),
        ControlServers.resolve(List.of(), Map.of("SHUFFLE_NODE_IP", "fd00::1")));
    assertEquals(
        List.of("h:9"),
        ControlServers.resolve(
            List.of(), Map.of("SHUFFLE_CONTROL_ADDRESS", "h:9", "SHUFFLE_NODE_IP", "x")));
  }

  @Test
  void configuredEntriesAndDnsNames() {
    assertEquals(List.of("a:1", "b:2"), ControlServers.resolve(List.of("a:1", "b:2", "a:1"), Map.of()));
    List<String> resolved = ControlServers.resolve(List.of("dns:localhost:7338"), Map.of());
    assertTrue(resolved.contains("127.0.0.1:7338"), resolved.toString());
  }

  @Test
  void badEntriesSayWhatIsExpected() {
    for (String bad : List.of("nohost", "h:", "h:x", "h:70000", "dns:nope")) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> ControlServers.resolve(List.of(bad), Map.of()));
      assertTrue(e.getMessage().contains("HOST:PORT"), e.getMessage());
    }
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () -> ControlServers.resolve(List.of("dns:no-such-host.invalid:7338"), Map.of()));
    assertTrue(unknown.getMessage().contains("does not resolve"), unknown.getMessage());
  }
  @Test
  void serversWithTheirDataPlanes() {
    assertEquals(
        List.of(
            new ServerAddress("a:7340", "a:1"),
            new ServerAddress("10.0.0.2:9", "10.0.0.2:8")),
        ControlServers.resolveServers(List.of("a:1", "10.0.0.2:9/10.0.0.2:8"), Map.of(), 7340));
    assertEquals(
        List.of("a:1", "10.0.0.2:8"),
        ControlServers.resolve(List.of("a:1", "10.0.0.2:9/10.0.0.2:8"), Map.of()));
    assertEquals(
        List.of(new ServerAddress("127.0.0.1:7000", "127.0.0.1:7338")),
        ControlServers.resolveServers(List.of(), Map.of(), 7000));
    assertThrows(
        IllegalArgumentException.class,
        () -> ControlServers.resolve(List.of("a:1/nope"), Map.of()));
  }
}
