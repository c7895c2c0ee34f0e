// Fetch payloads sent with sendfile: slow readers over TCP and the Unix socket get every byte
// (partial sends, full sockets), a fetch racing the removal of its application is served whole or
// refused cleanly, a segment file cut short under a fetch closes the connection instead of
// sending anything that is not the file's, and a Unix connection holds the send buffer the server
// asks for. In the TLS run (tests/support/tls_run.h) TCP fetches are encrypted in user space
// instead: no sendfile there, the same bytes and the same bounds.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>

#include <sys/socket.h>

#include "gtest/gtest.h"
#include "shuffle-server/dataplane/dataplane_test_util.h"
#include "shuffle-server/dataplane/listen.h"
#include "shuffle/core/block.h"

namespace shuffle::dataplane::testing {
namespace {

using core::FrameType;
using std::chrono::milliseconds;

constexpr uint32_t kPartitions = 2;

// (map, partition, seq) -> the block's bytes.
using Pushed = std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::string>;

// Pushes and commits `maps` maps of `shuffle` through the engine: blocks of 100 B and 5,000 B
// aggregate into extents, blocks of 70 and 200 KiB get extents of their own (SmallOptions).
Pushed PushMaps(storage::StorageEngine& engine, uint32_t shuffle, uint32_t maps) {
  const storage::ShuffleKey key{core::AppId(kApp), core::ShuffleId(shuffle)};
  Pushed pushed;
  for (uint32_t map = 0; map < maps; ++map) {
    const Blocks blocks =
        MakeMapBlocks(shuffle, map, 0, kPartitions, {100, 5000, 70 << 10, 200 << 10});
    std::vector<storage::PushedBlock> push;
    uint64_t bytes = 0;
    uint32_t seq = 0;
    for (const auto& [partition, block] : blocks) {
      push.push_back({core::PartitionId(partition), block});
      pushed[{map, partition, seq++}] = block;
      bytes += block.size();
    }
    EXPECT_TRUE(engine.Push(key, core::MapId(map), core::AttemptId(0), push).ok());
    EXPECT_TRUE(engine
                    .Commit(key, storage::CommitRequest{.map = core::MapId(map),
                                                        .attempt = core::AttemptId(0),
                                                        .num_partitions = kPartitions,
                                                        .expected_blocks = push.size(),
                                                        .expected_bytes = bytes})
                    .ok());
  }
  return pushed;
}

// Reads the frames of fetch `id` one at a time, pausing after each, like a reducer that consumes
// slowly; every block is checked against what was pushed.
Fetched ReadSlowly(TestClient& client, uint64_t id, const Pushed& pushed) {
  Fetched out;
  while (true) {
    absl::StatusOr<core::Frame> frame = client.ReadFrame();
    if (!frame.ok()) {
      out.status = frame.status();
      return out;
    }
    EXPECT_EQ(frame->request_id, id);
    if (frame->type == FrameType::kFetchEnd) {
      out.end.ParseFromString(frame->header);
      return out;
    }
    if (frame->type == FrameType::kError) {
      proto::Error error;
      error.ParseFromString(frame->header);
      out.status = absl::Status(static_cast<absl::StatusCode>(error.code()), error.message());
      return out;
    }
    EXPECT_EQ(frame->type, FrameType::kFetchData);
    proto::FetchData data;
    EXPECT_TRUE(data.ParseFromString(frame->header));
    ++out.data_frames;
    size_t at = 0;
    for (const proto::BlockOrigin& origin : data.blocks()) {
      const std::string bytes = frame->payload.substr(at, origin.length());
      at += origin.length();
      EXPECT_TRUE(core::VerifyBlock(bytes).ok()) << "block " << origin.ShortDebugString();
      auto it = pushed.find({origin.map_id(), origin.partition_id(), origin.seq()});
      EXPECT_TRUE(it != pushed.end() && it->second == bytes) << origin.ShortDebugString();
      out.blocks.emplace_back(origin, bytes);
    }
    EXPECT_EQ(at, frame->payload.size());
    std::this_thread::sleep_for(milliseconds(1));
  }
}

uint64_t TotalBytes(const Pushed& pushed) {
  uint64_t total = 0;
  for (const auto& [origin, bytes] : pushed) {
    total += bytes.size();
  }
  return total;
}

class SendfileTest : public DataPlaneTest, public ::testing::WithParamInterface<bool> {
 protected:
  DataPlaneOptions SmallWindowOptions() const {
    DataPlaneOptions options = DefaultOptions();
    options.fetch_frame_bytes = 64 << 10;
    options.max_pending_write_bytes = 256 << 10;
    options.unix_send_buffer_bytes = 16 << 10;  // the Unix socket fills up, like TCP's below
    return options;
  }
  std::unique_ptr<TestClient> Connect() {
    return GetParam() ? ConnectUnix() : ConnectTcp(/*receive_buffer=*/16 << 10);
  }
};

TEST_P(SendfileTest, SlowReaderReceivesEveryByte) {
  StartServer(SmallWindowOptions());
  Register(1, kPartitions);
  const Pushed pushed = PushMaps(*engine_, 1, 16);  // about 8.6 MiB
  std::unique_ptr<TestClient> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(SendFetch(*client, 1, 1, 0, kPartitions).ok());
  const Fetched fetched = ReadSlowly(*client, 1, pushed);
  ASSERT_TRUE(fetched.status.ok()) << fetched.status;
  EXPECT_EQ(fetched.blocks.size(), pushed.size());
  EXPECT_EQ(fetched.end.blocks(), pushed.size());
  EXPECT_EQ(fetched.end.bytes(), TotalBytes(pushed));
  const DataPlaneStats stats = server_->stats();
  if (testsupport::TlsRun() && !GetParam()) {
    EXPECT_EQ(stats.sendfile_bytes, 0u) << "TLS cannot send a file as it is";
  } else {
    EXPECT_EQ(stats.sendfile_bytes, TotalBytes(pushed)) << "payloads must not be copied";
    EXPECT_GT(stats.sendfile_waits, 0u) << "the socket never filled up";
  }
  EXPECT_GT(stats.fetch_waits, 0u);
  EXPECT_LE(stats.max_connection_pending_write_bytes, (256u << 10) + (200u << 10) + 1024);
  EXPECT_TRUE(
      WaitFor([&] { return server_->stats().pending_write_bytes == 0; }, milliseconds(5000)));
}

TEST_P(SendfileTest, FetchRacingApplicationRemovalIsServedWholeOrRefused) {
  StartServer(SmallWindowOptions());
  int served_after_removal = 0;
  int refused = 0;
  for (uint32_t round = 0; round < 10; ++round) {
    const uint32_t shuffle = round + 1;
    Register(shuffle, kPartitions);
    const Pushed pushed = PushMaps(*engine_, shuffle, 8);
    std::unique_ptr<TestClient> client = Connect();
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(SendFetch(*client, 7, shuffle, 0, kPartitions).ok());
    std::atomic<bool> removed{false};
    std::thread remover([&] {
      std::this_thread::sleep_for(milliseconds(3 * round));
      EXPECT_TRUE(engine_->RemoveApplication(core::AppId(kApp)).ok());
      removed = true;
    });
    const Fetched fetched = ReadSlowly(*client, 7, pushed);
    const bool removed_before_end = removed;
    remover.join();
    if (fetched.status.ok()) {
      // Whole: every block, each checked by ReadSlowly.
      EXPECT_EQ(fetched.blocks.size(), pushed.size());
      EXPECT_EQ(fetched.end.bytes(), TotalBytes(pushed));
      served_after_removal += removed_before_end ? 1 : 0;
    } else {
      // Refused before anything was sent: the shuffle was gone when the fetch was planned.
      EXPECT_EQ(fetched.status.code(), absl::StatusCode::kNotFound) << fetched.status;
      EXPECT_TRUE(fetched.blocks.empty());
      ++refused;
    }
    ASSERT_TRUE(client->SendFrame(FrameType::kPing, 8, proto::FetchEnd()).ok());
    absl::StatusOr<core::Frame> pong = client->ReadFrame();
    ASSERT_TRUE(pong.ok()) << pong.status();
    EXPECT_EQ(pong->type, FrameType::kPong);
  }
  EXPECT_GT(served_after_removal, 0) << "no removal happened while a fetch was being sent";
  RecordProperty("served_after_removal", served_after_removal);
  RecordProperty("refused", refused);
}

TEST_P(SendfileTest, SegmentCutShortUnderAFetchClosesTheConnection) {
  StartServer(SmallWindowOptions());
  Register(1, kPartitions);
  const Pushed pushed = PushMaps(*engine_, 1, 16);
  std::unique_ptr<TestClient> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(SendFetch(*client, 1, 1, 0, kPartitions).ok());
  absl::StatusOr<core::Frame> first = client->ReadFrame();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->type, FrameType::kFetchData);
  for (const char* dir : {"/d0", "/d1"}) {
    std::filesystem::resize_file(dir_.path() + dir + "/shuffles/1/data.seg", 0);
  }
  // Whatever still arrives is the files' bytes, until the connection closes mid-stream.
  const Fetched rest = ReadSlowly(*client, 1, pushed);
  EXPECT_EQ(rest.status.code(), absl::StatusCode::kUnavailable) << rest.status;
  EXPECT_LT(rest.blocks.size(), pushed.size());
  std::unique_ptr<TestClient> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->SendFrame(FrameType::kPing, 2, proto::FetchEnd()).ok());
  absl::StatusOr<core::Frame> pong = other->ReadFrame();
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->type, FrameType::kPong);
}

// The bytes the server has written into a reducer's socket once it stops making progress: the
// reducer asked for a fetch and reads nothing, so that is what the socket holds.
uint64_t BytesOutOnceStalled(const DataPlaneServer& server) {
  uint64_t last = server.stats().bytes_out;
  auto unchanged_since = std::chrono::steady_clock::now();
  const auto deadline = unchanged_since + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         std::chrono::steady_clock::now() - unchanged_since < milliseconds(300)) {
    std::this_thread::sleep_for(milliseconds(20));
    const uint64_t now = server.stats().bytes_out;
    if (now != last) {
      last = now;
      unchanged_since = std::chrono::steady_clock::now();
    }
  }
  return last;
}

// A Unix stream has no buffer autotuning: its whole window is the sender's send buffer, 208 KiB
// by the kernel's default, and a hot fetch would wait for the reducer every 208 KiB. The server
// sizes the buffer of each Unix connection itself (unix_send_buffer_bytes).
TEST_F(DataPlaneTest, UnixConnectionsHoldTheSendBufferAskedFor) {
  constexpr uint64_t kAsked = 4u << 20;
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  const uint64_t granted = SetSendBuffer(pair[0], kAsked);
  close(pair[0]);
  close(pair[1]);
  RecordProperty("granted_bytes", static_cast<int64_t>(granted));
  ASSERT_GE(granted, 1u << 20) << "the kernel refused a 1 MiB send buffer (net.core.wmem_max, "
                                  "CAP_NET_ADMIN): this test cannot tell the sizes apart";

  Register(1, kPartitions);
  const Pushed pushed = PushMaps(*engine_, 1, 32);  // about 17 MiB
  std::map<uint64_t, uint64_t> stalled;             // asked -> bytes in the socket
  for (const uint64_t asked : {uint64_t{0}, kAsked}) {
    DataPlaneOptions options = DefaultOptions();
    options.unix_send_buffer_bytes = asked;
    options.max_pending_write_bytes = 32u << 20;  // the stream never waits for the cap
    StartServer(options);
    std::unique_ptr<TestClient> client = ConnectUnix();
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(SendFetch(*client, 1, 1, 0, kPartitions).ok());  // and does not read
    stalled[asked] = BytesOutOnceStalled(*server_);
    EXPECT_EQ(server_->stats().unix_send_buffer_bytes, asked == 0 ? 0 : granted);
    client.reset();
    server_.reset();
  }
  RecordProperty("stalled_default", static_cast<int64_t>(stalled[0]));
  RecordProperty("stalled_asked", static_cast<int64_t>(stalled[kAsked]));
  EXPECT_LT(stalled[kAsked], TotalBytes(pushed)) << "the reducer's socket took the whole fetch";
  EXPECT_GE(stalled[kAsked], granted / 2);
  EXPECT_GT(stalled[kAsked], 2 * stalled[0]);
}

INSTANTIATE_TEST_SUITE_P(Transports, SendfileTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Unix") : std::string("Tcp");
                         });

}  // namespace
}  // namespace shuffle::dataplane::testing
