package dev.shuffle.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shuffle.testkit.ShuffleServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin over TLS: a server with --tls-cert-file, executors that reach its data plane over
 * TCP and a driver that reaches its control plane, both checking it with the CA of
 * spark.shuffle.node.tls.caFile. The job's result equals Spark's built-in shuffle's, and every
 * connection was a TLS one. The certificates are made with the
 * openssl command (tools/setup installs it).
 */
class TlsTest {
  static final String MASTER = "local[2]";

  @Test
  void aJobShufflesThroughTlsAndMatchesTheBuiltInShuffle(@TempDir Path dir) throws Exception {
    Path ca = dir.resolve("ca.crt");
    Path cert = dir.resolve("server.crt");
    Path key = dir.resolve("server.key");
    openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=tls-test-ca", "-days", "1");
    openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    Files.writeString(dir.resolve("san.cnf"), "subjectAltName=IP:127.0.0.1\n");
    openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.cnf");

    Workloads.Summary expected;
    SparkSession reference = SparkSessions.start(SparkSessions.common(MASTER), Map.of());
    try {
      expected = Workloads.sqlGroupBy(reference);
    } finally {
      reference.stop();
    }
    try (ShuffleServer server =
        ShuffleServer.start(dir.resolve("server"), "node-tls", "127.0.0.1",
            "--tls-cert-file=" + cert, "--tls-key-file=" + key)) {
      SparkSession spark =
          SparkSessions.start(
              SparkSessions.plugin(
                  SparkSessions.common(MASTER), server.controlAddress(), server.dataAddress()),
              Map.of(NodeShuffleConf.TLS_CA_FILE, ca.toString()));
      try {
        assertEquals(expected, Workloads.sqlGroupBy(spark));
      } finally {
        spark.stop();
      }
      // The driver's registrations went through the control plane, which serves TLS only, and
      // /metrics is HTTPS only.
      assertThrows(UncheckedIOException.class, server::metrics);
      Map<String, Double> metrics = server.metrics(ca);
      double ok = metrics.getOrDefault("shuffle_tls_handshakes_total{result=\"ok\"}", 0.0);
      assertTrue(ok >= 2, "TLS handshakes: " + ok);  // at least one writer and one reader
      assertEquals(0.0, metrics.get("shuffle_tls_handshakes_total{result=\"failed\"}"));
    }
  }

  private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
  }
}
