// Test fixture for the data plane: a storage engine in a temporary directory, a server on
// 127.0.0.1:0 and a Unix socket, and helpers that build and send push, commit and fetch
// requests through a TestClient. In the TLS run of the integration suites
// (tests/support/tls_run.h) the TCP listener serves TLS and TestClient speaks it. Used by one
// test thread at a time.
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
#include "shuffle-server/dataplane/test_requests.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/proto/data.pb.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::dataplane::testing {

inline absl::Status SendPush(TestClient& client, uint64_t id, uint32_t shuffle, uint32_t map,
                             uint32_t attempt, const Blocks& blocks,
                             const std::string& app = kApp) {
  PushParts push = MakePush(shuffle, map, attempt, blocks, app);
  return client.SendFrame(core::FrameType::kPushRequest, id, push.header, push.payload);
}

inline absl::Status SendCommit(TestClient& client, uint64_t id, uint32_t shuffle, uint32_t map,
                               uint32_t attempt, uint32_t partitions, const Blocks& pushed) {
  return client.SendFrame(core::FrameType::kCommitRequest, id,
                          MakeCommit(shuffle, map, attempt, partitions, pushed));
}

inline absl::Status SendFetch(TestClient& client, uint64_t id, uint32_t shuffle,
                              uint32_t partition_start, uint32_t partition_end,
                              uint32_t map_start = 0, uint32_t map_end = 0) {
  return client.SendFrame(core::FrameType::kFetchRequest, id,
                          MakeFetch(shuffle, partition_start, partition_end, map_start, map_end));
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

  testsupport::TempDir dir_;
  std::unique_ptr<tls::ReloadingServerContext> tls_;  // the TLS run's certificate
  std::unique_ptr<storage::StorageEngine> engine_;
  std::unique_ptr<DataPlaneServer> server_;
};

}  // namespace shuffle::dataplane::testing

#endif  // SHUFFLE_SERVER_DATAPLANE_DATAPLANE_TEST_UTIL_H_
