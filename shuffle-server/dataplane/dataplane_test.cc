// Data-plane integration tests: round trips over TCP and the Unix socket, pipelining, request
// errors that keep the connection, and start-up errors.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "gtest/gtest.h"
#include "shuffle-server/dataplane/dataplane_test_util.h"
#include "shuffle/core/block.h"

namespace shuffle::dataplane::testing {
namespace {

using core::FrameType;

constexpr uint32_t kPartitions = 4;

// Reads one frame and checks it answers `id` with `type`.
core::Frame Expect(TestClient& client, uint64_t id, FrameType type) {
  absl::StatusOr<core::Frame> frame = client.ReadFrame();
  EXPECT_TRUE(frame.ok()) << frame.status();
  if (!frame.ok()) {
    return {};
  }
  EXPECT_EQ(frame->request_id, id);
  EXPECT_EQ(frame->type, type) << "got " << core::FrameTypeName(frame->type) << " "
                               << frame->header;
  return *std::move(frame);
}

proto::Error ExpectError(TestClient& client, uint64_t id) {
  proto::Error error;
  EXPECT_TRUE(error.ParseFromString(Expect(client, id, FrameType::kError).header));
  return error;
}

void ExpectPong(TestClient& client, uint64_t id) {
  ASSERT_TRUE(client.SendFrame(FrameType::kPing, id, proto::FetchEnd()).ok());
  Expect(client, id, FrameType::kPong);
}

class RoundTripTest : public DataPlaneTest, public ::testing::WithParamInterface<bool> {};

TEST_P(RoundTripTest, PushCommitFetch) {
  DataPlaneOptions options = DefaultOptions();
  options.fetch_frame_bytes = 64 << 10;
  StartServer(options);
  const uint32_t shuffle = 3;
  Register(shuffle, kPartitions);
  std::unique_ptr<TestClient> client = GetParam() ? ConnectUnix() : ConnectTcp();
  ASSERT_NE(client, nullptr);

  // (map, partition) -> blocks pushed, sorted for comparison.
  std::map<std::pair<uint32_t, uint32_t>, std::multiset<std::string>> pushed;
  uint64_t total_blocks = 0;
  uint64_t total_bytes = 0;
  uint64_t id = 1;
  for (uint32_t map = 0; map < 3; ++map) {
    // 70 KiB blocks exceed direct_block_bytes (64 KiB) in SmallOptions: both paths are used.
    Blocks blocks = MakeMapBlocks(shuffle, map, 0, kPartitions, {100, 5000, 70 << 10});
    std::vector<uint64_t> partition_bytes(kPartitions, 0);
    uint64_t bytes = 0;
    for (const auto& [p, block] : blocks) {
      pushed[{map, p}].insert(block);
      partition_bytes[p] += block.size();
      bytes += block.size();
    }
    total_blocks += blocks.size();
    total_bytes += bytes;
    ASSERT_TRUE(SendPush(*client, id, shuffle, map, 0, blocks).ok());
    proto::PushResponse push;
    ASSERT_TRUE(push.ParseFromString(Expect(*client, id++, FrameType::kPushResponse).header));
    EXPECT_EQ(push.accepted_bytes(), bytes);

    ASSERT_TRUE(SendCommit(*client, id, shuffle, map, 0, kPartitions, blocks).ok());
    proto::CommitResponse commit;
    ASSERT_TRUE(commit.ParseFromString(Expect(*client, id++, FrameType::kCommitResponse).header));
    EXPECT_TRUE(commit.won());
    const proto::MapStatus& status = commit.status();
    EXPECT_EQ(status.node(), "node-a");
    EXPECT_EQ(status.address(), server_->advertise_address());
    EXPECT_EQ(status.shuffle_id(), shuffle);
    EXPECT_EQ(status.map_id(), map);
    EXPECT_EQ(status.attempt(), 0u);
    ASSERT_EQ(status.partition_bytes_size(), static_cast<int>(kPartitions));
    ASSERT_EQ(status.partition_blocks_size(), static_cast<int>(kPartitions));
    for (uint32_t p = 0; p < kPartitions; ++p) {
      EXPECT_EQ(status.partition_bytes(static_cast<int>(p)), partition_bytes[p]);
      EXPECT_EQ(status.partition_blocks(static_cast<int>(p)), 3u);
    }
  }

  ASSERT_TRUE(SendFetch(*client, id, shuffle, 0, kPartitions).ok());
  Fetched all = ReadFetch(*client, id++);
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.end.blocks(), total_blocks);
  EXPECT_EQ(all.end.bytes(), total_bytes);
  EXPECT_GT(all.data_frames, 1);
  std::map<std::pair<uint32_t, uint32_t>, std::multiset<std::string>> fetched;
  for (const auto& [origin, bytes] : all.blocks) {
    EXPECT_TRUE(core::VerifyBlock(bytes).ok());
    EXPECT_EQ(origin.attempt(), 0u);
    fetched[{origin.map_id(), origin.partition_id()}].insert(bytes);
  }
  EXPECT_TRUE(fetched == pushed) << "fetched blocks differ from the pushed ones";

  // A sub-range: partition 2 of map 1 only.
  ASSERT_TRUE(SendFetch(*client, id, shuffle, 2, 3, /*map_start=*/1, /*map_end=*/2).ok());
  Fetched one = ReadFetch(*client, id++);
  ASSERT_TRUE(one.status.ok()) << one.status;
  ASSERT_EQ(one.blocks.size(), 3u);
  std::multiset<std::string> got;
  for (const auto& [origin, bytes] : one.blocks) {
    EXPECT_EQ(origin.map_id(), 1u);
    EXPECT_EQ(origin.partition_id(), 2u);
    got.insert(bytes);
  }
  EXPECT_TRUE((got == pushed[{1, 2}]));
  EXPECT_EQ(one.end.blocks(), 3u);

  const DataPlaneStats stats = server_->stats();
  EXPECT_EQ(stats.frames_in[static_cast<int>(FrameType::kPushRequest)], 3u);
  EXPECT_EQ(stats.frames_out[static_cast<int>(FrameType::kFetchEnd)], 2u);
  EXPECT_EQ(stats.connections_open, 1u);
}

INSTANTIATE_TEST_SUITE_P(Transports, RoundTripTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Unix") : std::string("Tcp");
                         });

TEST_F(DataPlaneTest, PipelinedRequestsAreAllAnswered) {
  DataPlaneOptions options = DefaultOptions();
  options.max_in_flight_per_connection = 4;
  StartServer(options);
  const uint32_t shuffle = 5;
  Register(shuffle, kPartitions);
  std::unique_ptr<TestClient> client = ConnectTcp();
  ASSERT_NE(client, nullptr);

  std::vector<Blocks> maps;
  for (uint32_t map = 0; map < 30; ++map) {
    maps.push_back(MakeMapBlocks(shuffle, map, 0, kPartitions, {300, 2000}));
  }
  // Round 1: 20 pushes without waiting. Round 2: commits of maps 0-9 (their pushes are
  // acknowledged) interleaved with pushes of maps 20-29, and a ping.
  std::map<uint64_t, FrameType> expected;
  for (uint32_t map = 0; map < 20; ++map) {
    ASSERT_TRUE(SendPush(*client, 100 + map, shuffle, map, 0, maps[map]).ok());
    expected[100 + map] = FrameType::kPushResponse;
  }
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<core::Frame> frame = client->ReadFrame();
    ASSERT_TRUE(frame.ok()) << frame.status();
    ASSERT_EQ(expected.count(frame->request_id), 1u) << frame->request_id;
    EXPECT_EQ(frame->type, expected[frame->request_id]);
    expected.erase(frame->request_id);
  }
  for (uint32_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(SendCommit(*client, 200 + i, shuffle, i, 0, kPartitions, maps[i]).ok());
    expected[200 + i] = FrameType::kCommitResponse;
    ASSERT_TRUE(SendPush(*client, 300 + i, shuffle, 20 + i, 0, maps[20 + i]).ok());
    expected[300 + i] = FrameType::kPushResponse;
  }
  ASSERT_TRUE(client->SendFrame(FrameType::kPing, 400, proto::FetchEnd()).ok());
  expected[400] = FrameType::kPong;
  for (int i = 0; i < 21; ++i) {
    absl::StatusOr<core::Frame> frame = client->ReadFrame();
    ASSERT_TRUE(frame.ok()) << frame.status();
    ASSERT_EQ(expected.count(frame->request_id), 1u) << frame->request_id;
    EXPECT_EQ(frame->type, expected[frame->request_id]) << frame->header;
    if (frame->type == FrameType::kCommitResponse) {
      proto::CommitResponse commit;
      ASSERT_TRUE(commit.ParseFromString(frame->header));
      EXPECT_TRUE(commit.won());
      EXPECT_EQ(commit.status().map_id(), frame->request_id - 200);
    }
    expected.erase(frame->request_id);
  }
  EXPECT_TRUE(expected.empty());
  // The last response is written before its request leaves the in-flight count.
  EXPECT_TRUE(WaitFor([&] { return server_->stats().requests_in_flight == 0; },
                      std::chrono::milliseconds(5000)));
}

TEST_F(DataPlaneTest, RequestErrorsKeepTheConnection) {
  StartServer();
  Register(1, kPartitions);
  std::unique_ptr<TestClient> client = ConnectTcp();
  ASSERT_NE(client, nullptr);
  const Blocks blocks = MakeMapBlocks(9, 4, 2, 1, {100});

  ASSERT_TRUE(SendPush(*client, 11, /*shuffle=*/9, /*map=*/4, /*attempt=*/2, blocks).ok());
  proto::Error error = ExpectError(*client, 11);
  EXPECT_EQ(error.code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_NE(error.message().find("not registered"), std::string::npos) << error.message();
  EXPECT_NE(error.message().find("map 4 attempt 2"), std::string::npos) << error.message();
  ExpectPong(*client, 12);

  // A header that is not a PushRequest: framing is intact, so only the request fails.
  ASSERT_TRUE(client->SendRaw(core::EncodeFrame(FrameType::kPushRequest, 13, "\x0a\xff", "")).ok());
  error = ExpectError(*client, 13);
  EXPECT_EQ(error.code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(error.message().find("PushRequest"), std::string::npos) << error.message();
  ExpectPong(*client, 14);

  // Block lengths that do not add up to the payload.
  proto::PushRequest bad;
  *bad.mutable_credentials() = Creds();
  bad.set_shuffle_id(1);
  bad.add_blocks()->set_length(10);
  ASSERT_TRUE(client->SendFrame(FrameType::kPushRequest, 15, bad, "12345").ok());
  error = ExpectError(*client, 15);
  EXPECT_EQ(error.code(), static_cast<int>(absl::StatusCode::kInvalidArgument));

  // A corrupt block is refused by the engine with DATA_LOSS.
  Blocks corrupt = MakeMapBlocks(1, 0, 0, 1, {100});
  corrupt[0].second[40] ^= 0x1;
  ASSERT_TRUE(SendPush(*client, 16, 1, 0, 0, corrupt).ok());
  EXPECT_EQ(ExpectError(*client, 16).code(), static_cast<int>(absl::StatusCode::kDataLoss));

  // A fetch of an unknown shuffle.
  ASSERT_TRUE(SendFetch(*client, 17, 42, 0, 1).ok());
  EXPECT_EQ(ExpectError(*client, 17).code(), static_cast<int>(absl::StatusCode::kNotFound));

  // And the connection still serves real work.
  const Blocks good = MakeMapBlocks(1, 0, 0, kPartitions, {100});
  ASSERT_TRUE(SendPush(*client, 18, 1, 0, 0, good).ok());
  Expect(*client, 18, FrameType::kPushResponse);
  ASSERT_TRUE(SendCommit(*client, 19, 1, 0, 0, kPartitions, good).ok());
  Expect(*client, 19, FrameType::kCommitResponse);
  const DataPlaneStats stats = server_->stats();
  EXPECT_GE(stats.errors[static_cast<int>(absl::StatusCode::kNotFound)], 2u);
  EXPECT_GE(stats.errors[static_cast<int>(absl::StatusCode::kInvalidArgument)], 2u);
  EXPECT_EQ(stats.connections_open, 1u);
}

TEST_F(DataPlaneTest, StartErrorsNameTheAddress) {
  DataPlaneOptions none;
  absl::StatusOr<std::unique_ptr<DataPlaneServer>> server =
      DataPlaneServer::Start(none, engine_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);

  StartServer();
  DataPlaneOptions taken;
  taken.listen_address = "127.0.0.1:" + std::to_string(server_->tcp_port());
  server = DataPlaneServer::Start(taken, engine_.get());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(taken.listen_address), std::string::npos)
      << server.status();

  DataPlaneOptions live;
  live.socket_path = socket_path();  // the running server's socket
  server = DataPlaneServer::Start(live, engine_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kAlreadyExists) << server.status();

  DataPlaneOptions file;
  file.socket_path = dir_.path() + "/not-a-socket";
  std::ofstream(file.socket_path) << "x";
  server = DataPlaneServer::Start(file, engine_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition) << server.status();

  DataPlaneOptions bad;
  bad.listen_address = "no-port";
  server = DataPlaneServer::Start(bad, engine_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DataPlaneTest, UnixSocketIsWorldWritableAndStaleFileReplaced) {
  {
    // A stale socket file, as a crashed server leaves it: bound, then closed.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path().c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  StartServer();
  struct stat st {};
  ASSERT_EQ(stat(socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  std::unique_ptr<TestClient> client = ConnectUnix();
  ASSERT_NE(client, nullptr);
  ExpectPong(*client, 1);
  server_->Stop();
  EXPECT_NE(stat(socket_path().c_str(), &st), 0) << "Stop() removes the socket file";
}

}  // namespace
}  // namespace shuffle::dataplane::testing
