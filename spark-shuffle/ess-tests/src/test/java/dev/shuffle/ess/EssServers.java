package dev.shuffle.ess;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.shuffle.testkit.ShuffleServer;

/** The real shuffle-server (the test kit's) with its Spark listener on, on 127.0.0.1. */
final class EssServers {
  private EssServers() {}

  /** Executors' registered dirs must lie under {@code localDirsRoot}. */
  static ShuffleServer start(Path dir, Path localDirsRoot, String... extraFlags)
      throws IOException {
    List<String> flags = new ArrayList<>(List.of(
        "--spark-local-dirs-root=" + localDirsRoot, "--log-level=warning"));
    flags.addAll(List.of(extraFlags));
    return ShuffleServer.start(dir, "node-1", "127.0.0.1", flags.toArray(new String[0]));
  }
}
