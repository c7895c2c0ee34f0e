package dev.shuffle.ess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.spark.network.shuffle.ExternalBlockStoreClient;
import org.apache.spark.network.shuffle.protocol.ExecutorShuffleInfo;
import dev.shuffle.testkit.ShuffleServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed, truncated and oversized frames on raw sockets: each is answered with Spark's
 * failure message when it names a request, and its connection closed; the server keeps serving
 * Spark's real client on other connections.
 */
class BadFramesTest {
  @TempDir
  static Path tmp;
  static ShuffleServer server;

  @BeforeAll
  static void setUp() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("root"));
    Files.createDirectories(root.resolve("exec"));
    server = EssServers.start(tmp.resolve("server"), root);
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private static Socket connect() throws IOException {
    Socket s = new Socket(server.host(), server.sparkPort());
    s.setSoTimeout(20_000);
    return s;
  }

  /** An RpcRequest frame: length, type 3, request id, body size, body. */
  private static byte[] rpc(long requestId, byte[] body, long lengthOverride) throws IOException {
    var bytes = new java.io.ByteArrayOutputStream();
    var out = new DataOutputStream(bytes);
    out.writeLong(lengthOverride >= 0 ? lengthOverride : 8 + 1 + 8 + 4 + body.length);
    out.writeByte(3);
    out.writeLong(requestId);
    out.writeInt(body.length);
    out.write(body);
    return bytes.toByteArray();
  }

  /** Reads one RpcFailure frame and returns its error text. */
  private static String readRpcFailure(DataInputStream in, long requestId) throws IOException {
    long length = in.readLong();
    assertEquals(5, in.readByte(), "an RpcFailure");
    assertEquals(requestId, in.readLong());
    byte[] error = new byte[in.readInt()];
    in.readFully(error);
    assertEquals(length, 8 + 1 + 8 + 4 + error.length);
    return new String(error, StandardCharsets.UTF_8);
  }

  private static void assertClosed(DataInputStream in) throws IOException {
    try {
      int b = in.read();
      assertEquals(-1, b, "connection still open");
    } catch (SocketTimeoutException e) {
      throw new AssertionError("connection still open after 20 s", e);
    } catch (IOException e) {
      // reset: closed
    }
  }

  @Test
  void unknownBlockMessageIsAnsweredAndTheConnectionStays() throws Exception {
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      var in = new DataInputStream(s.getInputStream());
      out.write(rpc(7, new byte[] {99, 1, 2}, -1));
      assertTrue(readRpcFailure(in, 7).contains("Unknown message type"));
      // A truncated body (a RegisterExecutor cut short) is an RPC failure too.
      out.write(rpc(8, new byte[] {2, 0, 0, 0, 9, 'a'}, -1));
      assertTrue(readRpcFailure(in, 8).contains("truncated"));
    }
  }

  @Test
  void oversizedFrameIsAnsweredThenClosed() throws Exception {
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      var in = new DataInputStream(s.getInputStream());
      out.write(rpc(11, new byte[0], 1L << 40));
      assertTrue(readRpcFailure(in, 11).contains("Too large frame"));
      assertClosed(in);
    }
  }

  @Test
  void negativeLengthAndUnknownTypeAreClosed() throws Exception {
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      out.writeLong(3);  // shorter than its own length field
      assertClosed(new DataInputStream(s.getInputStream()));
    }
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      out.writeLong(8 + 1 + 4);
      out.writeByte(42);  // no such message type
      out.writeInt(0);
      assertClosed(new DataInputStream(s.getInputStream()));
    }
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      out.writeLong(8 + 1 + 12);
      out.writeByte(4);  // an RpcResponse: a client never sends one
      out.writeLong(1);
      out.writeInt(0);
      assertClosed(new DataInputStream(s.getInputStream()));
    }
  }

  @Test
  void truncatedFrameThenDisconnectLeavesTheServerServing() throws Exception {
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      out.writeLong(1000);
      out.write(new byte[10]);  // and then the client goes away
    }
    double errorsBefore = server.metric("shuffle_spark_protocol_errors_total");
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      out.writeLong(2);
      assertClosed(new DataInputStream(s.getInputStream()));
    }
    assertEquals(errorsBefore + 1, server.metric("shuffle_spark_protocol_errors_total"));
    // Spark's real client still registers on a new connection.
    try (ExternalBlockStoreClient client = EssClients.client("app-after-bad-frames")) {
      client.registerWithShuffleServer(server.host(), server.sparkPort(), "1",
          new ExecutorShuffleInfo(new String[] {tmp.resolve("root/exec").toString()}, 64,
              "sort"));
    }
    assertEquals(1, server.metric("shuffle_spark_registered_executors"));
  }

  @Test
  void chunkOfAnUnknownStreamIsAChunkFetchFailure() throws Exception {
    try (Socket s = connect()) {
      var out = new DataOutputStream(s.getOutputStream());
      var in = new DataInputStream(s.getInputStream());
      out.writeLong(8 + 1 + 12);
      out.writeByte(0);  // ChunkFetchRequest
      out.writeLong(123456789L);
      out.writeInt(0);
      long length = in.readLong();
      assertEquals(2, in.readByte(), "a ChunkFetchFailure");
      assertEquals(123456789L, in.readLong());
      assertEquals(0, in.readInt());
      byte[] error = new byte[in.readInt()];
      in.readFully(error);
      assertEquals(length, 8 + 1 + 12 + 4 + error.length);
      assertTrue(new String(error, StandardCharsets.UTF_8).contains("is closed"));
    } catch (EOFException e) {
      throw new AssertionError("no ChunkFetchFailure", e);
    }
  }
}
