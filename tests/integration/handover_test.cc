// Decommission (graceful hand-over) against real shuffle-server processes with secrets: a node's
// server drains, copies every committed map output to its peers as the same attempt with the
// application's token, and answers with their new MapStatuses; readers then get every block from
// the new places with the old server gone.
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/support/program.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace shuffle::client {
namespace {

using testsupport::ServerProcess;

constexpr uint32_t kPartitions = 7;
constexpr uint32_t kMaps = 12;
constexpr char kApp[] = "handover-app";
constexpr char kOperatorSecret[] = "handover-operator-secret";

// The raw bytes of block b of map m in partition p: self-describing, so a reader can check them.
std::string BlockBytes(uint32_t m, uint32_t p, uint32_t b) {
  std::string s =
      "map" + std::to_string(m) + "/p" + std::to_string(p) + "/b" + std::to_string(b) + ";";
  while (s.size() < 500 + (m * 131 + p * 17 + b) % 3000) {
    s += s.substr(0, 11);
  }
  return s;
}

class HandOverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() + "/token-secret") << std::string(40, 'k') << "\n";
    std::ofstream(dir_.path() + "/operator-secret") << kOperatorSecret << "\n";
    for (int i = 0; i < 3; ++i) {
      auto server =
          ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/n" + std::to_string(i),
                               "n" + std::to_string(i), "", "127.0.0.1:0",
                               {"--secret-file=" + dir_.path() + "/token-secret",
                                "--registration-secret-file=" + dir_.path() + "/operator-secret"});
      ASSERT_TRUE(server.ok()) << server.status();
      servers_.push_back(std::move(*server));
    }
    auto token = servers_[0]->RegisterApplication(kApp, "team-a", kOperatorSecret);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
  }

  ShuffleHandle Handle() const {
    return ShuffleHandle{.app_id = kApp,
                         .token = token_,
                         .shuffle = core::ShuffleId(2),
                         .num_partitions = kPartitions};
  }
  static ClientOptions Options(const std::string& server) {
    ClientOptions o;
    o.server = server;
    o.register_shuffle_on_push = true;
    o.max_retries = 2;
    o.initial_backoff_ms = 20;
    return o;
  }

  // Map m as attempt 100 + m, 1 + (m + p) % 3 blocks in partition p (none in partition 3 for
  // maps divisible by 4; map 5 writes nothing at all).
  absl::StatusOr<MapStatus> WriteMap(const std::string& server, uint32_t m) {
    auto writer =
        MapOutputWriter::Open(Options(server), Handle(), core::MapId(m), core::AttemptId(100 + m));
    if (!writer.ok()) {
      return writer.status();
    }
    for (uint32_t p = 0; p < kPartitions && m != 5; ++p) {
      if (p == 3 && m % 4 == 0) {
        continue;
      }
      for (uint32_t b = 0; b < 1 + (m + p) % 3; ++b) {
        if (absl::Status st = (*writer)->WriteBlock(core::PartitionId(p), BlockBytes(m, p, b), 1);
            !st.ok()) {
          return st;
        }
        expected_[p].insert(BlockBytes(m, p, b));
      }
    }
    auto committed = (*writer)->Commit();
    if (!committed.ok()) {
      return committed.status();
    }
    return committed->status;
  }

  grpc::Status Decommission(const std::string& secret, proto::DecommissionResponse* response) {
    auto stub = proto::ShuffleControl::NewStub(
        grpc::CreateChannel(servers_[0]->control_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    proto::DecommissionRequest request;
    request.mutable_admin()->set_operator_secret(secret);
    for (int i = 1; i < 3; ++i) {
      proto::Peer* peer = request.add_peers();
      peer->set_data_address(servers_[i]->data_address());
      peer->set_control_address(servers_[i]->control_address());
    }
    request.set_timeout_seconds(50);
    return stub->Decommission(&context, request, response);
  }

  testsupport::TempDir dir_{"handover_test-"};
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::string token_;
  std::map<uint32_t, std::multiset<std::string>> expected_;  // by partition
};

TEST_F(HandOverTest, EveryOutputIsServedFromItsNewPlaceAfterTheNodeIsGone) {
  std::vector<MapStatus> before;
  for (uint32_t m = 0; m < kMaps; ++m) {
    auto status = WriteMap(servers_[0]->data_address(), m);
    ASSERT_TRUE(status.ok()) << status.status();
    before.push_back(*status);
  }

  proto::DecommissionResponse response;
  const grpc::Status st = Decommission(kOperatorSecret, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.maps(), kMaps);
  ASSERT_EQ(response.moved_size(), static_cast<int>(kMaps));
  EXPECT_EQ(response.unmoved_size(), 0);
  EXPECT_GT(response.bytes_moved(), 0u);

  // The node refuses new map output from now on.
  auto refused = WriteMap(servers_[0]->data_address(), kMaps);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  expected_.clear();
  for (uint32_t m = 0; m < kMaps; ++m) {
    for (uint32_t p = 0; p < kPartitions && m != 5; ++p) {
      for (uint32_t b = 0; b < 1 + (m + p) % 3 && !(p == 3 && m % 4 == 0); ++b) {
        expected_[p].insert(BlockBytes(m, p, b));
      }
    }
  }

  const std::set<std::string> peers = {servers_[1]->data_address(), servers_[2]->data_address()};
  std::vector<MapStatus> after(kMaps);
  std::set<uint32_t> maps_moved;
  for (const proto::MovedMapOutput& moved : response.moved()) {
    EXPECT_EQ(moved.app_id(), kApp);
    auto status = MapStatus::Parse(moved.status().SerializeAsString());
    ASSERT_TRUE(status.ok()) << status.status();
    const uint32_t m = status->map.value();
    ASSERT_LT(m, kMaps);
    EXPECT_TRUE(maps_moved.insert(m).second) << "map " << m << " moved twice";
    EXPECT_EQ(peers.count(status->address), 1u) << status->address;
    EXPECT_EQ(status->attempt, before[m].attempt) << "map " << m;
    EXPECT_EQ(status->partition_blocks, before[m].partition_blocks) << "map " << m;
    after[m] = *status;
  }

  servers_[0]->Kill();  // the node is gone: everything must come from the peers
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto reader = PartitionReader::Open(Options(""), Handle(), core::PartitionId(p),
                                        core::PartitionId(p + 1), after);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::multiset<std::string> got;
    std::string_view raw;
    for (int i = 0; i < 1000; ++i) {
      auto more = (*reader)->NextBlock(&raw);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) {
        break;
      }
      got.insert(std::string(raw));
    }
    EXPECT_EQ(got, expected_[p]) << "partition " << p;
  }
}

TEST_F(HandOverTest, NeedsTheOperatorSecretAndPeers) {
  proto::DecommissionResponse response;
  EXPECT_EQ(Decommission("wrong", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto stub = proto::ShuffleControl::NewStub(
      grpc::CreateChannel(servers_[0]->control_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  proto::DecommissionRequest request;
  request.mutable_admin()->set_operator_secret(kOperatorSecret);
  const grpc::Status st = stub->Decommission(&context, request, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  // Nothing was drained by the refused calls: the node still takes map output.
  EXPECT_TRUE(WriteMap(servers_[0]->data_address(), 0).ok());
}

}  // namespace
}  // namespace shuffle::client
