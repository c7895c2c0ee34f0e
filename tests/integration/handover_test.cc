// Decommission (graceful hand-over) against real shuffle-server processes with secrets: a node's
// server drains, copies every committed map output to its peers as the same attempt with the
// application's token, and answers with their new MapStatuses; readers then get every block from
// the new places with the old server gone. The same through `shufflectl decommission`, and on
// SIGTERM with --handover-on-stop=always, where the driver learns the places from
// GetMovedOutputs while the server lingers; /metrics shows the progress.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/support/http.h"
#include "tests/support/program.h"
#include "tests/support/read_totals.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/support/tls_run.h"

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
    // The peers first, so node 0 can be told where they are.
    std::string peers;
    const testsupport::IssuedCertificate cert = pki_.Issue("server", {"127.0.0.1"});
    for (int i : {1, 2, 0}) {
      std::vector<std::string> args = {
          "--secret-file=" + dir_.path() + "/token-secret",
          "--registration-secret-file=" + dir_.path() + "/operator-secret"};
      if (WithTls()) {  // every data plane encrypted; node 0 checks its peers with the CA
        args.push_back("--tls-cert-file=" + cert.cert_file);
        args.push_back("--tls-key-file=" + cert.key_file);
        if (i == 0) {
          args.push_back("--tls-ca-file=" + pki_.ca_file());
        }
      }
      if (i == 0) {
        for (const std::string& arg : NodeZeroArgs(peers)) {
          args.push_back(arg);
        }
      }
      auto server =
          ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/n" + std::to_string(i),
                               "n" + std::to_string(i), "", "127.0.0.1:0", args);
      ASSERT_TRUE(server.ok()) << server.status();
      (*server)->set_control_tls(Options(""));
      if (i != 0) {
        absl::StrAppend(&peers, peers.empty() ? "" : ",", (*server)->data_address(), "/",
                        (*server)->control_address());
      }
      servers_.push_back(std::move(*server));
    }
    std::rotate(servers_.begin(), servers_.begin() + 2, servers_.end());  // n0, n1, n2
    auto token = servers_[0]->RegisterApplication(kApp, "team-a", kOperatorSecret);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
  }

  // Node 0's extra flags; `peers` is "DATA/CONTROL,DATA/CONTROL" of nodes 1 and 2.
  virtual std::vector<std::string> NodeZeroArgs(const std::string& /*peers*/) { return {}; }
  // TLS on every server's TCP planes from this test's own CA (otherwise, in the TLS run of the
  // integration suites, from the run's: tests/support/tls_run.h).
  virtual bool WithTls() const { return false; }
  // The CA the servers' certificates chain to, "" when they serve plaintext.
  std::string CaFile() const { return WithTls() ? pki_.ca_file() : testsupport::RunCaFile(); }

  // A channel to node 0's control plane, through TLS when the servers have it.
  std::shared_ptr<grpc::Channel> ControlChannel() const {
    const tls::ClientFiles files{.ca_file = CaFile()};
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        tls::NewGrpcChannel(servers_[0]->control_address(), files);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.value_or(nullptr);
  }

  ShuffleHandle Handle() const {
    return ShuffleHandle{.app_id = kApp,
                         .token = token_,
                         .shuffle = core::ShuffleId(2),
                         .num_partitions = kPartitions};
  }
  ClientOptions Options(const std::string& server) const {
    ClientOptions o;
    o.server = server;
    o.tls_ca_file = CaFile();
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
    auto stub = proto::ShuffleControl::NewStub(ControlChannel());
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

  // Writes kMaps maps to node 0; their statuses by map id.
  std::vector<MapStatus> WriteAllMaps() {
    std::vector<MapStatus> before;
    for (uint32_t m = 0; m < kMaps; ++m) {
      auto status = WriteMap(servers_[0]->data_address(), m);
      EXPECT_TRUE(status.ok()) << status.status();
      before.push_back(status.ok() ? *status : MapStatus{});
    }
    return before;
  }

  // Checks the moved outputs (each map once, at a peer, same attempt and block counts) and
  // returns the statuses readers use now, by map id.
  std::vector<MapStatus> CheckMoved(
      const google::protobuf::RepeatedPtrField<proto::MovedMapOutput>& moved,
      const std::vector<MapStatus>& before) {
    const std::set<std::string> peers = {servers_[1]->data_address(), servers_[2]->data_address()};
    std::vector<MapStatus> after(kMaps);
    std::set<uint32_t> maps_moved;
    for (const proto::MovedMapOutput& m : moved) {
      EXPECT_EQ(m.app_id(), kApp);
      auto status = MapStatus::Parse(m.status().SerializeAsString());
      EXPECT_TRUE(status.ok()) << status.status();
      if (!status.ok() || status->map.value() >= kMaps) {
        ADD_FAILURE() << "a moved output that was never written";
        continue;
      }
      const uint32_t map = status->map.value();
      EXPECT_TRUE(maps_moved.insert(map).second) << "map " << map << " moved twice";
      EXPECT_EQ(peers.count(status->address), 1u) << status->address;
      EXPECT_EQ(status->attempt, before[map].attempt) << "map " << map;
      EXPECT_EQ(status->partition_blocks, before[map].partition_blocks) << "map " << map;
      after[map] = *status;
    }
    EXPECT_EQ(maps_moved.size(), kMaps);
    return after;
  }

  // Every block of every partition, read from `places` (node 0 may be gone).
  void ExpectEveryBlockAt(const std::vector<MapStatus>& places) {
    for (uint32_t p = 0; p < kPartitions; ++p) {
      auto reader = PartitionReader::Open(Options(""), Handle(), core::PartitionId(p),
                                          core::PartitionId(p + 1), places);
      ASSERT_TRUE(reader.ok()) << reader.status();
      absl::StatusOr<std::multiset<std::string>> got = testsupport::ReadBlocks(**reader);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, expected_[p]) << "partition " << p;
    }
  }

  // GetMovedOutputs of node 0, as the application asks it (its token).
  grpc::Status MovedOutputs(proto::GetMovedOutputsResponse* response) {
    auto stub = proto::ShuffleControl::NewStub(ControlChannel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    proto::GetMovedOutputsRequest request;
    request.mutable_credentials()->set_app_id(kApp);
    request.mutable_credentials()->set_token(token_);
    return stub->GetMovedOutputs(&context, request, response);
  }

  // The value of one sample of node `node`'s /metrics page, or -1.
  double Metric(const std::string& sample, size_t node = 0) {
    return testsupport::MetricValue(servers_[node]->metrics_address(), sample, CaFile());
  }

  testsupport::TempDir dir_{"handover_test-"};
  testsupport::TestPki pki_{dir_.path()};
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
    absl::StatusOr<std::multiset<std::string>> got = testsupport::ReadBlocks(**reader);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, expected_[p]) << "partition " << p;
  }
}

TEST_F(HandOverTest, NeedsTheOperatorSecretAndPeers) {
  proto::DecommissionResponse response;
  EXPECT_EQ(Decommission("wrong", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto stub = proto::ShuffleControl::NewStub(ControlChannel());
  grpc::ClientContext context;
  proto::DecommissionRequest request;
  request.mutable_admin()->set_operator_secret(kOperatorSecret);
  const grpc::Status st = stub->Decommission(&context, request, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  // Nothing was drained by the refused calls: the node still takes map output.
  EXPECT_TRUE(WriteMap(servers_[0]->data_address(), 0).ok());
}

// The operator's command: shufflectl decommission --peer ... moves every output, says where each
// went (JSON), exits 0; the driver's GetMovedOutputs then gives the same places, and /metrics
// counts them.
TEST_F(HandOverTest, ShufflectlDecommissionMovesEveryOutput) {
  const std::vector<MapStatus> before = WriteAllMaps();
  ASSERT_EQ(Metric("shuffle_handovers_total"), 0);

  std::vector<std::string> args = {SHUFFLECTL_BINARY, "--server=" + servers_[0]->control_address(),
                                   "--secret-file=" + dir_.path() + "/operator-secret", "--json",
                                   "--timeout-seconds=50"};
  if (!CaFile().empty()) {
    args.push_back("--tls-ca-file=" + CaFile());
  }
  for (const std::string& arg :
       {std::string("decommission"),
        "--peer=" + servers_[1]->data_address() + "/" + servers_[1]->control_address(),
        std::string("--peer"),
        servers_[2]->data_address() + "/" + servers_[2]->control_address()}) {
    args.push_back(arg);
  }
  auto run = testsupport::RunProgram(args, dir_.path(), std::chrono::seconds(120), "shufflectl");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  const nlohmann::json out = nlohmann::json::parse(run->out);
  EXPECT_EQ(out["maps"], kMaps);
  EXPECT_EQ(out["moved"].size(), kMaps);
  EXPECT_TRUE(out["unmoved"].empty());

  proto::GetMovedOutputsResponse moves;
  const grpc::Status st = MovedOutputs(&moves);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(moves.state(), proto::GetMovedOutputsResponse::DONE);
  const std::vector<MapStatus> after = CheckMoved(moves.moved(), before);
  for (const nlohmann::json& m : out["moved"]) {
    const uint32_t map = m["map_id"];
    ASSERT_LT(map, kMaps);
    EXPECT_EQ(m["address"], after[map].address) << "map " << map;
  }

  EXPECT_EQ(Metric("shuffle_handovers_total"), 1);
  EXPECT_EQ(Metric("shuffle_handover_running"), 0);
  EXPECT_EQ(Metric("shuffle_handover_outputs{state=\"moved\"}"), kMaps);
  EXPECT_EQ(Metric("shuffle_handover_outputs{state=\"left\"}"), 0);
  EXPECT_EQ(Metric("shuffle_handover_outputs{state=\"failed\"}"), 0);
  EXPECT_GT(Metric("shuffle_handover_moved_bytes_total"), 0);

  servers_[0]->Kill();
  ExpectEveryBlockAt(after);
}

// A server that crashed right after the map stage was sealed (SIGKILL: commits in its commit log,
// the seal's flush maybe half done) and came back still hands every acknowledged output over.
TEST_F(HandOverTest, AfterACrashEveryAcknowledgedOutputIsStillHandedOver) {
  const std::vector<MapStatus> before = WriteAllMaps();
  ASSERT_TRUE(servers_[0]->SealShuffle(kApp, token_, 2).ok());
  servers_[0]->Kill();
  auto restarted =
      ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/n0", "n0", "", "127.0.0.1:0",
                           {"--secret-file=" + dir_.path() + "/token-secret",
                            "--registration-secret-file=" + dir_.path() + "/operator-secret"});
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  servers_[0] = std::move(*restarted);

  proto::DecommissionResponse response;
  const grpc::Status st = Decommission(kOperatorSecret, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.maps(), kMaps);
  EXPECT_EQ(response.unmoved_size(), 0);
  const std::vector<MapStatus> after = CheckMoved(response.moved(), before);
  servers_[0]->Kill();
  ExpectEveryBlockAt(after);
}

TEST_F(HandOverTest, MovedOutputsAreTheApplicationsOwn) {
  proto::GetMovedOutputsResponse moves;
  ASSERT_TRUE(MovedOutputs(&moves).ok());
  EXPECT_EQ(moves.state(), proto::GetMovedOutputsResponse::NONE);  // no hand-over yet
  auto stub = proto::ShuffleControl::NewStub(ControlChannel());
  grpc::ClientContext context;
  proto::GetMovedOutputsRequest request;
  request.mutable_credentials()->set_app_id(kApp);
  request.mutable_credentials()->set_token(token_ + "x");
  EXPECT_EQ(stub->GetMovedOutputs(&context, request, &moves).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// SIGTERM with --handover-on-stop=always (what a cordoned node's server does): the server drains,
// hands every output over, and lingers while the driver collects the new places; then exits 0.
class HandOverOnStopTest : public HandOverTest {
 protected:
  std::vector<std::string> NodeZeroArgs(const std::string& peers) override {
    return {"--handover-on-stop=always", "--handover-peers=" + peers,
            "--handover-timeout-seconds=60", "--handover-linger-seconds=10"};
  }
};

TEST_F(HandOverOnStopTest, SigtermHandsOverAndTheDriverLearnsTheNewPlaces) {
  const std::vector<MapStatus> before = WriteAllMaps();
  ASSERT_EQ(::kill(servers_[0]->pid(), SIGTERM), 0);

  // The driver polls the stopping server until its hand-over is done (bounded: 60 s).
  proto::GetMovedOutputsResponse moves;
  for (int i = 0; i < 600; ++i) {
    moves.Clear();
    const grpc::Status st = MovedOutputs(&moves);
    ASSERT_TRUE(st.ok()) << "the server must serve the moves until it exits: "
                         << st.error_message();
    if (moves.state() == proto::GetMovedOutputsResponse::DONE) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(moves.state(), proto::GetMovedOutputsResponse::DONE);
  EXPECT_EQ(moves.unmoved_size(), 0);
  const std::vector<MapStatus> after = CheckMoved(moves.moved(), before);
  EXPECT_EQ(Metric("shuffle_handover_outputs{state=\"moved\"}"), kMaps);
  EXPECT_EQ(Metric("shuffle_draining"), 1);

  ASSERT_TRUE(servers_[0]->Terminate(60000).ok());  // exits cleanly after the linger
  ExpectEveryBlockAt(after);
}

class HandOverTlsTest : public HandOverTest {
 protected:
  bool WithTls() const override { return true; }
};

// With TLS on every server's TCP planes, the decommissioning server asks its peers' control
// planes for their free space and writes to their data planes through TLS (--tls-ca-file), and
// readers find every block there.
TEST_F(HandOverTlsTest, DecommissionMovesEveryOutputToPeersOverTls) {
  const std::vector<MapStatus> before = WriteAllMaps();
  proto::DecommissionResponse response;
  const grpc::Status st = Decommission(kOperatorSecret, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.unmoved_size(), 0);
  const std::vector<MapStatus> after = CheckMoved(response.moved(), before);
  // Every peer that took outputs (the one with more free space may take them all) was written
  // to through TLS, and no handshake failed anywhere.
  for (size_t node = 1; node < 3; ++node) {
    const bool took = std::any_of(after.begin(), after.end(), [&](const MapStatus& s) {
      return s.address == servers_[node]->data_address();
    });
    if (took) {
      EXPECT_GT(Metric("shuffle_tls_handshakes_total{result=\"ok\"}", node), 0) << node;
    }
    EXPECT_EQ(Metric("shuffle_tls_handshakes_total{result=\"failed\"}", node), 0) << node;
  }
  servers_[0]->Kill();
  ExpectEveryBlockAt(after);
}

// shufflectl reaches a TLS control plane with the CA (as the DaemonSet's probes do), and says
// what to do without it.
TEST_F(HandOverTlsTest, ShufflectlTalksTlsWithTheCa) {
  const std::vector<std::string> base = {
      SHUFFLECTL_BINARY, "--server=" + servers_[0]->control_address(), "--timeout-seconds=5"};
  std::vector<std::string> with_ca = base;
  with_ca.push_back("--tls-ca-file=" + pki_.ca_file());
  with_ca.push_back("health");
  auto health = testsupport::RunProgram(with_ca, dir_.path(), std::chrono::seconds(30), "health");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->exit_code, 0) << health->err;
  EXPECT_THAT(health->out, ::testing::HasSubstr("SERVING"));

  std::vector<std::string> status = base;
  status.push_back("--tls-ca-file=" + pki_.ca_file());
  status.push_back("--secret-file=" + dir_.path() + "/operator-secret");
  status.push_back("--json");
  status.push_back("apps");
  auto apps = testsupport::RunProgram(status, dir_.path(), std::chrono::seconds(30), "apps");
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_EQ(apps->exit_code, 0) << apps->err;
  EXPECT_THAT(apps->out, ::testing::HasSubstr(kApp));

  std::vector<std::string> plaintext = base;
  plaintext.push_back("health");
  auto refused = testsupport::RunProgram(plaintext, dir_.path(), std::chrono::seconds(30), "plain");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->exit_code, 1);
  EXPECT_THAT(refused->err, ::testing::HasSubstr("--tls-ca-file"));
}

// Without a hand-over to do (--handover-on-stop=never, the default), SIGTERM stops as before.
TEST_F(HandOverTest, SigtermWithoutHandOverOnStopMovesNothing) {
  WriteAllMaps();
  ASSERT_TRUE(servers_[0]->Terminate(60000).ok());
  for (int i = 1; i < 3; ++i) {
    auto page = testsupport::HttpGetOk(*core::Endpoint::Parse(servers_[i]->metrics_address()),
                                       "/metrics", CaFile());
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_THAT(*page, ::testing::HasSubstr("\nshuffle_commits_total 0\n")) << "node " << i;
  }
}

}  // namespace
}  // namespace shuffle::client
