// Data-plane integration tests for the hostile and the slow: malformed frames that close one
// connection only, a client that stops reading a large fetch, idle connections, and Stop() with
// connections open.
#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle-server/dataplane/dataplane_test_util.h"

namespace shuffle::dataplane::testing {
namespace {

using core::FrameType;
using std::chrono::milliseconds;

void ExpectPong(TestClient& client, uint64_t id) {
  ASSERT_TRUE(client.SendFrame(FrameType::kPing, id, proto::FetchEnd()).ok());
  absl::StatusOr<core::Frame> frame = client.ReadFrame();
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->type, FrameType::kPong);
  EXPECT_EQ(frame->request_id, id);
}

std::string PushHeader() {
  proto::PushRequest req;
  *req.mutable_credentials() = Creds();
  req.set_shuffle_id(1);
  return req.SerializeAsString();
}

struct BadStream {
  const char* name;
  std::string bytes;
  bool expect_error;  // a kError frame precedes the close
  uint64_t error_id;
};

std::vector<BadStream> BadStreams(const core::FrameLimits& limits) {
  std::vector<BadStream> cases;
  std::string magic = core::EncodeFrame(FrameType::kPing, 7, "", "");
  magic[0] ^= 0x5a;
  cases.push_back({"bad magic", magic, true, 0});
  std::string type = core::EncodeFrame(FrameType::kPing, 8, "", "");
  type[5] = 77;
  cases.push_back({"unknown type", type, true, 0});
  std::string version = core::EncodeFrame(FrameType::kPing, 9, "", "");
  version[4] = 9;
  cases.push_back({"unsupported version", version, true, 0});
  // Only the prefix is sent: the server must refuse it without waiting for the payload.
  std::string oversized =
      core::EncodeFrameHead(FrameType::kPushRequest, 10, PushHeader(), limits.max_payload_size + 1);
  cases.push_back({"oversized payload", oversized.substr(0, core::kFramePrefixSize), true, 0});
  std::string checksum = core::EncodeFrame(FrameType::kPushRequest, 11, PushHeader(), "");
  checksum[core::kFramePrefixSize + 1] ^= 0x1;
  cases.push_back({"corrupt head checksum", checksum, true, 0});
  cases.push_back(
      {"response type", core::EncodeFrame(FrameType::kPushResponse, 12, "", ""), true, 12});
  std::string truncated = core::EncodeFrame(FrameType::kPushRequest, 13, PushHeader(), "abcdef");
  cases.push_back({"truncated then EOF", truncated.substr(0, truncated.size() - 3), false, 0});
  return cases;
}

TEST_F(DataPlaneTest, FatalFramingErrorsCloseOnlyThatConnection) {
  DataPlaneOptions options = DefaultOptions();
  options.frame_limits.max_payload_size = 1 << 20;
  StartServer(options);
  std::unique_ptr<TestClient> good = ConnectTcp();
  ASSERT_NE(good, nullptr);
  uint64_t ping_id = 1000;
  ExpectPong(*good, ping_id++);
  for (const BadStream& bad : BadStreams(options.frame_limits)) {
    SCOPED_TRACE(bad.name);
    std::unique_ptr<TestClient> client = ConnectTcp();
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->SendRaw(bad.bytes).ok());
    if (!bad.expect_error) {
      client->ShutdownWrite();
    }
    std::vector<core::Frame> frames;
    EXPECT_TRUE(client->WaitForClose(milliseconds(10000), &frames)) << "server kept it open";
    if (bad.expect_error) {
      ASSERT_EQ(frames.size(), 1u);
      EXPECT_EQ(frames[0].type, FrameType::kError);
      EXPECT_EQ(frames[0].request_id, bad.error_id);
      proto::Error error;
      ASSERT_TRUE(error.ParseFromString(frames[0].header));
      EXPECT_NE(error.code(), 0);
      EXPECT_NE(error.message().find("closing the connection"), std::string::npos)
          << error.message();
    } else {
      EXPECT_TRUE(frames.empty());
    }
    ExpectPong(*good, ping_id++);
  }
  EXPECT_TRUE(WaitFor([&] { return server_->stats().connections_open == 1; }, milliseconds(5000)));
  EXPECT_EQ(server_->stats().connections_closed_protocol, 6u);
  EXPECT_EQ(server_->stats().request_buffer_bytes, 0u);
}

// Pushes `bytes` of 1 MiB blocks into partition 0 of `shuffle` directly through the engine.
void PushLarge(storage::StorageEngine& engine, uint32_t shuffle, uint64_t bytes) {
  const storage::ShuffleKey key{core::AppId(kApp), core::ShuffleId(shuffle)};
  constexpr size_t kBlock = 1 << 20;
  const uint32_t maps = 8;
  const uint64_t per_map = bytes / maps / kBlock;
  for (uint32_t map = 0; map < maps; ++map) {
    std::vector<std::string> encoded;
    std::vector<storage::PushedBlock> blocks;
    encoded.reserve(per_map);
    blocks.reserve(per_map);
    uint64_t total = 0;
    for (uint64_t b = 0; b < per_map; ++b) {
      encoded.push_back(
          storage::testing::MakeBlock(shuffle, map, 0, 0, static_cast<uint32_t>(b), kBlock));
      total += encoded.back().size();
    }
    for (const std::string& block : encoded) {
      blocks.push_back({core::PartitionId(0), block});
    }
    ASSERT_TRUE(engine.Push(key, core::MapId(map), core::AttemptId(0), blocks).ok());
    absl::StatusOr<storage::CommitResult> commit =
        engine.Commit(key, storage::CommitRequest{.map = core::MapId(map),
                                                  .attempt = core::AttemptId(0),
                                                  .num_partitions = 1,
                                                  .expected_blocks = blocks.size(),
                                                  .expected_bytes = total});
    ASSERT_TRUE(commit.ok()) << commit.status();
  }
}

TEST_F(DataPlaneTest, ClientThatStopsReadingIsBoundedAndClosed) {
  DataPlaneOptions options = DefaultOptions();
  options.max_pending_write_bytes = 2 << 20;
  options.fetch_frame_bytes = 256 << 10;
  options.slow_client_timeout = milliseconds(1000);
  StartServer(options);
  Register(1, 1);
  Register(2, 1);
  PushLarge(*engine_, 1, 64ull << 20);
  const Blocks small = MakeMapBlocks(2, 0, 0, 1, {1000});
  {
    std::unique_ptr<TestClient> writer = ConnectTcp();
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(SendPush(*writer, 1, 2, 0, 0, small).ok());
    ASSERT_TRUE(writer->ReadFrame().ok());
    ASSERT_TRUE(SendCommit(*writer, 2, 2, 0, 0, 1, small).ok());
    ASSERT_TRUE(writer->ReadFrame().ok());
  }

  std::unique_ptr<TestClient> slow = ConnectTcp(/*receive_buffer=*/16 << 10);
  ASSERT_NE(slow, nullptr);
  ASSERT_TRUE(SendFetch(*slow, 1, 1, 0, 1).ok());  // and never read

  // Another client is served meanwhile.
  std::unique_ptr<TestClient> other = ConnectUnix();
  ASSERT_NE(other, nullptr);
  for (uint64_t i = 0; i < 5; ++i) {
    ExpectPong(*other, 10 + i);
    ASSERT_TRUE(SendFetch(*other, 20 + i, 2, 0, 1).ok());
    Fetched fetched = ReadFetch(*other, 20 + i);
    ASSERT_TRUE(fetched.status.ok()) << fetched.status;
    EXPECT_EQ(fetched.end.blocks(), 1u);
    std::this_thread::sleep_for(milliseconds(100));
  }

  // The slow connection is closed for making no progress, its fetch stream is cancelled.
  EXPECT_TRUE(
      WaitFor([&] { return server_->stats().connections_closed_slow == 1; }, milliseconds(20000)));
  EXPECT_TRUE(
      WaitFor([&] { return server_->stats().requests_in_flight == 0; }, milliseconds(20000)));
  // Its unwritten responses are released when the connection's last write completes (with TLS,
  // on the TLS stream's own completion, a little after the close).
  EXPECT_TRUE(
      WaitFor([&] { return server_->stats().pending_write_bytes == 0; }, milliseconds(20000)));
  const DataPlaneStats stats = server_->stats();
  EXPECT_LE(stats.max_connection_pending_write_bytes,
            options.max_pending_write_bytes + options.fetch_frame_bytes + (64 << 10));
  EXPECT_GT(stats.fetch_waits, 0u);
  EXPECT_EQ(stats.pending_write_bytes, 0u);
  EXPECT_LT(stats.bytes_out, 48ull << 20) << "the server did not stop at the cap";
  EXPECT_TRUE(slow->WaitForClose(milliseconds(20000)));
  ExpectPong(*other, 99);
}

TEST_F(DataPlaneTest, IdleConnectionIsClosed) {
  DataPlaneOptions options = DefaultOptions();
  options.idle_timeout = milliseconds(300);
  StartServer(options);
  std::unique_ptr<TestClient> idle = ConnectTcp();
  std::unique_ptr<TestClient> busy = ConnectUnix();
  ASSERT_NE(idle, nullptr);
  ASSERT_NE(busy, nullptr);
  const auto start = std::chrono::steady_clock::now();
  // The busy client pings every 50 ms and stays open past the idle timeout.
  for (uint64_t i = 0; i < 16; ++i) {
    ExpectPong(*busy, i + 1);
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(idle->WaitForClose(milliseconds(5000)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(300));
  ExpectPong(*busy, 100);
  EXPECT_EQ(server_->stats().connections_closed_idle, 1u);
}

TEST_F(DataPlaneTest, StopWithOpenConnectionsIsPromptAndClean) {
  DataPlaneOptions options = DefaultOptions();
  options.max_pending_write_bytes = 1 << 20;
  options.fetch_frame_bytes = 256 << 10;
  StartServer(options);
  Register(1, 1);
  PushLarge(*engine_, 1, 16ull << 20);

  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(ConnectTcp());
    clients.push_back(ConnectUnix());
  }
  for (const auto& client : clients) {
    ASSERT_NE(client, nullptr);
  }
  ExpectPong(*clients[0], 1);
  // A half-sent frame, and a fetch stream blocked on a client that does not read.
  const std::string frame = core::EncodeFrame(FrameType::kPushRequest, 2, PushHeader(), "xyz");
  ASSERT_TRUE(clients[1]->SendRaw(frame.substr(0, 20)).ok());
  std::unique_ptr<TestClient> slow = ConnectTcp(/*receive_buffer=*/16 << 10);
  ASSERT_NE(slow, nullptr);
  ASSERT_TRUE(SendFetch(*slow, 3, 1, 0, 1).ok());
  EXPECT_TRUE(WaitFor([&] { return server_->stats().fetch_waits > 0; }, milliseconds(10000)));

  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  for (const auto& client : clients) {
    EXPECT_TRUE(client->WaitForClose(milliseconds(5000)));
  }
  EXPECT_TRUE(slow->WaitForClose(milliseconds(5000)));
  const DataPlaneStats stats = server_->stats();
  EXPECT_EQ(stats.connections_open, 0u);
  EXPECT_EQ(stats.requests_in_flight, 0u);
  server_->Stop();  // idempotent
  EXPECT_FALSE(TestClient::ConnectTcp(server_->tcp_port()).ok());
}

}  // namespace
}  // namespace shuffle::dataplane::testing
