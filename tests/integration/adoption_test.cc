// Adoption against real shuffle-server processes with secrets, their data on one "shared
// volume" (a directory every server is given as --adopt-root): node 0's server writes map
// outputs and is SIGKILLed, its data left behind; node 1 adopts node 0's directory
// (ShuffleControl.Adopt with the application's token), recovers it as after a crash and serves
// it at new addresses, where every block of every output is read back. Node 2 asked later points
// to node 1 (also through `shufflectl adopt`); a server that comes back on node 0 starts afresh;
// when node 1 goes too, node 2 adopts the directory again. Refusals: a running server's directory,
// nothing to adopt, no shared volume, bad credentials.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "shuffle/client/control_client.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "tests/support/http.h"
#include "tests/support/program.h"
#include "tests/support/read_totals.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::client {
namespace {

using ::testing::HasSubstr;
using testsupport::ServerProcess;

constexpr uint32_t kPartitions = 5;
constexpr uint32_t kMaps = 10;
constexpr char kApp[] = "adoption-app";
constexpr char kOperatorSecret[] = "adoption-operator-secret";
constexpr auto kAdoptTimeout = std::chrono::seconds(60);

std::string BlockBytes(uint32_t m, uint32_t p, uint32_t b) {
  std::string s = absl::StrCat("map", m, "/p", p, "/b", b, ";");
  while (s.size() < 300 + (m * 131 + p * 17 + b) % 5000) {
    s += s.substr(0, 9);
  }
  return s;
}

class AdoptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.Sub("token-secret")) << std::string(40, 'k') << "\n";
    std::ofstream(dir_.Sub("operator-secret")) << kOperatorSecret << "\n";
    for (int i = 0; i < 3; ++i) {
      servers_.push_back(StartNode(i));
      ASSERT_NE(servers_.back(), nullptr);
    }
    auto token = servers_[0]->RegisterApplication(kApp, "team-a", kOperatorSecret);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
  }

  std::string Shared() const { return dir_.Sub("shared"); }

  // Node i's server, its data in the shared volume's directory of its node.
  std::unique_ptr<ServerProcess> StartNode(int i, bool shared_volume = true) {
    const std::string node = absl::StrCat("n", i);
    std::vector<std::string> args = {"--secret-file=" + dir_.Sub("token-secret"),
                                     "--registration-secret-file=" + dir_.Sub("operator-secret"),
                                     "--data-dir=" + Shared() + "/" + node};
    if (shared_volume) {
      args.push_back("--adopt-root=" + Shared());
      args.push_back("--adopt-listen-host=127.0.0.1");
    }
    auto server = ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.Sub("proc-" + node), node, "",
                                       "127.0.0.1:0", args);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  ClientOptions Options(const std::string& server) const {
    ClientOptions o;
    o.server = server;
    o.tls_ca_file = testsupport::RunCaFile();
    o.register_shuffle_on_push = true;
    o.max_retries = 1;
    o.initial_backoff_ms = 20;
    return o;
  }
  ShuffleHandle Handle() const {
    return ShuffleHandle{.app_id = kApp,
                         .token = token_,
                         .shuffle = core::ShuffleId(3),
                         .num_partitions = kPartitions};
  }

  // kMaps maps to node 0 (map m as attempt 10 + m); their statuses.
  std::vector<MapStatus> WriteMaps() {
    std::vector<MapStatus> statuses;
    for (uint32_t m = 0; m < kMaps; ++m) {
      auto writer = MapOutputWriter::Open(Options(servers_[0]->data_address()), Handle(),
                                          core::MapId(m), core::AttemptId(10 + m));
      EXPECT_TRUE(writer.ok()) << writer.status();
      if (!writer.ok()) {
        return {};
      }
      for (uint32_t p = 0; p < kPartitions; ++p) {
        for (uint32_t b = 0; b < (m + p) % 3; ++b) {
          EXPECT_TRUE((*writer)->WriteBlock(core::PartitionId(p), BlockBytes(m, p, b), 1).ok());
          expected_[p].insert(BlockBytes(m, p, b));
        }
      }
      auto committed = (*writer)->Commit();
      EXPECT_TRUE(committed.ok()) << committed.status();
      statuses.push_back(committed.ok() ? committed->status : MapStatus{});
    }
    return statuses;
  }

  absl::StatusOr<ControlClient::Adoption> Adopt(size_t asked, const std::string& node,
                                                const std::string& token) const {
    ClientOptions tls;
    tls.tls_ca_file = testsupport::RunCaFile();
    const ControlClient control(servers_[asked]->control_address(), std::chrono::seconds(60), tls);
    return control.Adopt(kApp, token, node, kAdoptTimeout);
  }

  // Every block of every partition, read with the outputs at `data_address`.
  void ExpectEveryBlockAt(std::vector<MapStatus> places, const std::string& data_address) {
    for (MapStatus& status : places) {
      status.address = data_address;
    }
    for (uint32_t p = 0; p < kPartitions; ++p) {
      auto reader = PartitionReader::Open(Options(""), Handle(), core::PartitionId(p),
                                          core::PartitionId(p + 1), places);
      ASSERT_TRUE(reader.ok()) << reader.status();
      absl::StatusOr<std::multiset<std::string>> got = testsupport::ReadBlocks(**reader);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, expected_[p]) << "partition " << p;
    }
  }

  double Metric(size_t node, const std::string& sample) const {
    return testsupport::MetricValue(servers_[node]->metrics_address(), sample,
                                    testsupport::RunCaFile());
  }

  testsupport::TempDir dir_{"adoption_test-"};
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::string token_;
  std::map<uint32_t, std::multiset<std::string>> expected_;  // by partition
};

TEST_F(AdoptionTest, ALostNodesOutputsAreServedByTheServerThatAdoptsItsDirectory) {
  const std::vector<MapStatus> written = WriteMaps();
  ASSERT_EQ(written.size(), kMaps);
  servers_[0]->Kill();  // the node is gone; its directory stays on the shared volume

  absl::StatusOr<ControlClient::Adoption> adopted = Adopt(1, "n0", token_);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_EQ(adopted->node, "n0");
  EXPECT_EQ(adopted->adopted_by, "n1");
  EXPECT_FALSE(adopted->already_adopted);
  EXPECT_EQ(adopted->commits_recovered, kMaps);
  EXPECT_NE(adopted->data_address, servers_[1]->data_address());
  EXPECT_FALSE(std::filesystem::exists(Shared() + "/n0"));  // moved out of node 0's way
  ExpectEveryBlockAt(written, adopted->data_address);
  EXPECT_EQ(Metric(1, "shuffle_adopted_nodes"), 1);
  EXPECT_EQ(Metric(1, "shuffle_adoptions_total"), 1);
  EXPECT_EQ(Metric(2, "shuffle_adopted_nodes"), 0);

  // Asked again, or asked of another server: the same place, no second adoption.
  absl::StatusOr<ControlClient::Adoption> again = Adopt(1, "n0", token_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_adopted);
  EXPECT_EQ(again->data_address, adopted->data_address);
  absl::StatusOr<ControlClient::Adoption> elsewhere = Adopt(2, "n0", token_);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_TRUE(elsewhere->already_adopted);
  EXPECT_EQ(elsewhere->adopted_by, "n1");
  EXPECT_EQ(elsewhere->data_address, adopted->data_address);
  EXPECT_EQ(elsewhere->control_address, adopted->control_address);

  // The operator's view, asked of node 2: `shufflectl adopt` with the operator secret.
  std::vector<std::string> args = {SHUFFLECTL_BINARY,
                                   "--server=" + servers_[2]->control_address(),
                                   "--secret-file=" + dir_.Sub("operator-secret"),
                                   "--json",
                                   "adopt",
                                   "n0"};
  if (!testsupport::RunCaFile().empty()) {
    args.push_back("--tls-ca-file=" + testsupport::RunCaFile());
  }
  auto ctl = testsupport::RunProgram(args, dir_.path(), std::chrono::seconds(120), "shufflectl");
  ASSERT_TRUE(ctl.ok()) << ctl.status();
  ASSERT_EQ(ctl->exit_code, 0) << ctl->err;
  const nlohmann::json out = nlohmann::json::parse(ctl->out);
  EXPECT_EQ(out["node"], "n0");
  EXPECT_EQ(out["adopted_by"], "n1");
  EXPECT_EQ(out["already_adopted"], true);
  EXPECT_EQ(out["data_address"], adopted->data_address);

  // A server coming back on node 0 starts afresh beside the adopted directory.
  servers_[0] = StartNode(0);
  ASSERT_NE(servers_[0], nullptr);
  absl::StatusOr<ControlClient::Adoption> while_back = Adopt(2, "n0", token_);
  ASSERT_TRUE(while_back.ok()) << while_back.status();
  EXPECT_EQ(while_back->data_address, adopted->data_address);

  // The adopter goes too: the next asker adopts the directory again, everything still there.
  servers_[1]->Kill();
  absl::StatusOr<ControlClient::Adoption> readopted = Adopt(2, "n0", token_);
  ASSERT_TRUE(readopted.ok()) << readopted.status();
  EXPECT_FALSE(readopted->already_adopted);
  EXPECT_EQ(readopted->adopted_by, "n2");
  EXPECT_EQ(readopted->commits_recovered, kMaps);
  ExpectEveryBlockAt(written, readopted->data_address);
}

TEST_F(AdoptionTest, OnlyALostServersDirectoryIsAdoptedAndOnlyForACaller) {
  WriteMaps();
  // Node 0's server runs: its directory is its own.
  absl::Status running = Adopt(1, "n0", token_).status();
  EXPECT_EQ(running.code(), absl::StatusCode::kFailedPrecondition) << running;
  EXPECT_THAT(running.message(), HasSubstr("still holds its data directory"));
  EXPECT_EQ(Adopt(1, "n7", token_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Adopt(1, "n1", token_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Adopt(1, "../n0", token_).status().code(), absl::StatusCode::kInvalidArgument);
  servers_[0]->Kill();
  EXPECT_EQ(Adopt(1, "n0", "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Adopt(1, "n0", "not-a-token").status().code(), absl::StatusCode::kUnauthenticated);
  // A server without the shared volume adopts nothing.
  servers_[2]->Kill();
  std::filesystem::remove_all(Shared() + "/n2");
  servers_[2] = StartNode(2, /*shared_volume=*/false);
  ASSERT_NE(servers_[2], nullptr);
  absl::Status unshared = Adopt(2, "n0", token_).status();
  EXPECT_EQ(unshared.code(), absl::StatusCode::kFailedPrecondition) << unshared;
  EXPECT_THAT(unshared.message(), HasSubstr("--adopt-root"));
  EXPECT_TRUE(std::filesystem::exists(Shared() + "/n0/index"));  // untouched
}

}  // namespace
}  // namespace shuffle::client
