// Test fixture for the data plane: a storage engine in a temporary directory, a server on
// 127.0.0.1:0 and a Unix socket, and helpers that build and send push, commit and fetch
// requests through a TestClient. Used by one test thread at a time.
#ifndef SHUFFLE_SERVER_DATAPLANE_DATAPLANE_TEST_UTIL_H_
#define SHUFFLE_SERVER_DATAPLANE_DATAPLANE_TEST_UTIL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "shuffle-server/dataplane/server.h"
#include "shuffle-server/dataplane/test_client.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::dataplane::testing {

inline constexpr char kApp[] = "app-1";

// (partition, encoded block)
using Blocks = std::vector<std::pair<uint32_t, std::string>>;

inline proto::Credentials Creds(const std::string& app = kApp) {
  proto::Credentials credentials;
  credentials.set_app_id(app);
  return credentials;
}

inline absl::Status SendPush(TestClient& client, uint64_t id, uint32_t shuffle, uint32_t map,
                             uint32_t attempt, const Blocks& blocks,
                             const std::string& app = kApp) {
  proto::PushRequest req;
  *req.mutable_credentials() = Creds(app);
  req.set_shuffle_id(shuffle);
  req.set_map_id(map);
  req.set_attempt(attempt);
  std::string payload;
  for (const auto& [partition, block] : blocks) {
    proto::BlockRef* ref = req.add_blocks();
    ref->set_partition_id(partition);
    ref->set_length(static_cast<uint32_t>(block.size()));
    payload += block;
  }
  return client.SendFrame(core::FrameType::kPushRequest, id, req, payload);
}

inline absl::Status SendCommit(TestClient& client, uint64_t id, uint32_t shuffle, uint32_t map,
                               uint32_t attempt, uint32_t partitions, const Blocks& pushed) {
  proto::CommitRequest req;
  *req.mutable_credentials() = Creds();
  req.set_shuffle_id(shuffle);
  req.set_map_id(map);
  req.set_attempt(attempt);
  req.set_num_partitions(partitions);
  uint64_t bytes = 0;
  for (const auto& [partition, block] : pushed) {
    bytes += block.size();
  }
  req.set_expected_blocks(pushed.size());
  req.set_expected_bytes(bytes);
  return client.SendFrame(core::FrameType::kCommitRequest, id, req);
}

inline absl::Status SendFetch(TestClient& client, uint64_t id, uint32_t shuffle,
                              uint32_t partition_start, uint32_t partition_end,
                              uint32_t map_start = 0, uint32_t map_end = 0) {
  proto::FetchRequest req;
  *req.mutable_credentials() = Creds();
  req.set_shuffle_id(shuffle);
  req.set_partition_start(partition_start);
  req.set_partition_end(partition_end);
  req.set_map_start(map_start);
  req.set_map_end(map_end);
  return client.SendFrame(core::FrameType::kFetchRequest, id, req);
}

// What a fetch returned.
struct Fetched {
  std::vector<std::pair<proto::BlockOrigin, std::string>> blocks;
  proto::FetchEnd end;
  int data_frames = 0;
  absl::Status status;  // a kError answer, or a transport/decoding failure
};

// Reads kFetchData frames of request `id` up to its kFetchEnd (or kError).
Fetched ReadFetch(TestClient& client, uint64_t id);

// Blocks of `partitions` partitions for one map, sizes cycling through `sizes`.
Blocks MakeMapBlocks(uint32_t shuffle, uint32_t map, uint32_t attempt, uint32_t partitions,
                     const std::vector<size_t>& sizes);

class DataPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  DataPlaneOptions DefaultOptions() const;
  void StartServer(const DataPlaneOptions& options);
  void StartServer() { StartServer(DefaultOptions()); }
  void Register(uint32_t shuffle, uint32_t partitions);

  std::unique_ptr<TestClient> ConnectTcp(int receive_buffer = 0);
  std::unique_ptr<TestClient> ConnectUnix();
  std::string socket_path() const { return dir_.path() + "/dp.sock"; }

  // Polls `condition` every 5 ms for at most `timeout`.
  template <typename F>
  static bool WaitFor(F condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::StorageEngine> engine_;
  std::unique_ptr<DataPlaneServer> server_;
};

}  // namespace shuffle::dataplane::testing

#endif  // SHUFFLE_SERVER_DATAPLANE_DATAPLANE_TEST_UTIL_H_
