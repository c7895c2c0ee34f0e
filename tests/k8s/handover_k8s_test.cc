// The hand-over on SIGTERM against a real kube-apiserver (docs/node-loss.md): a server started
// with --handover-on-stop=cordoned asks the API about its Node when it gets SIGTERM, and finds
// its peers as the Running pods with --handover-peer-selector's labels on other nodes (at their
// host IP, ports 7340 and 7338). On a cordoned node it hands every map output over to them and
// serves the new places (GetMovedOutputs) while it lingers; on a node that stays it stops
// without moving anything.
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/k8s/kube_suite.h"
#include "tests/support/http.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace shuffle::k8stest {
namespace {

using testsupport::ServerProcess;

constexpr char kApp[] = "handover-k8s-app";
constexpr uint32_t kPartitions = 4;

class HandOverK8sTest : public KubeSuite {
 protected:
  void SetUp() override {
    KubeSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    selector_ = "app=" + ns_;  // unique per test
    CreateNode("leaving-" + ns_, true);
    CreateNode("staying-" + ns_, false);
  }

  // Two peer servers, each on a loopback address of its own (its node's IP) so that both listen
  // on 7340 and 7338; tests that may run at once (ctest -j) use different addresses.
  void StartPeers(const std::vector<std::string>& ips) {
    for (size_t i = 0; i < ips.size(); ++i) {
      const std::string& ip = ips[i];
      auto peer = ServerProcess::Start(
          SHUFFLE_SERVER_BINARY, dir_.path() + "/peer" + std::to_string(i),
          "peer-node-" + std::to_string(i), "", ip + ":7340", {"--control-listen=" + ip + ":7338"});
      ASSERT_TRUE(peer.ok()) << peer.status();
      peers_.push_back(std::move(*peer));
      RunningPod(ns_ + "-peer-" + std::to_string(i), "peer-node-" + std::to_string(i), ip);
    }
  }

  void CreateNode(const std::string& name, bool cordoned) {
    kube::Json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
    if (cordoned) {
      node["spec"] = {{"unschedulable", true}};
    }
    ASSERT_TRUE(admin().Create(kube::Nodes(), node).ok());
  }

  // A pod with the peers' label, bound to `node`, Running there with host IP `ip`.
  void RunningPod(const std::string& name, const std::string& node, const std::string& ip) {
    const kube::Json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"labels", {{"app", ns_}}}}},
        {"spec",
         {{"nodeName", node},
          {"containers", {{{"name", "server"}, {"image", "shuffle/shuffle:0.1.0"}}}}}}};
    ASSERT_TRUE(admin().Create(kube::Pods("default"), pod).ok());
    kube::ResourcePath status = kube::Pods("default", name);
    status.subresource = "status";
    ASSERT_TRUE(admin()
                    .Patch(status, kube::PatchType::kMerge,
                           kube::Json{{"status", {{"phase", "Running"}, {"hostIP", ip}}}})
                    .ok());
  }

  std::unique_ptr<ServerProcess> StartServer(const std::string& node) {
    auto server = ServerProcess::Start(
        SHUFFLE_SERVER_BINARY, dir_.path() + "/" + node, node, "", "127.0.0.1:0",
        {"--handover-on-stop=cordoned", "--handover-peer-selector=" + selector_,
         "--kubeconfig=" + suite_env->kubeconfig(), "--handover-linger-seconds=10"});
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  void WriteMaps(const ServerProcess& server, uint32_t maps) {
    const client::ShuffleHandle handle{
        .app_id = kApp, .token = "", .shuffle = core::ShuffleId(1), .num_partitions = kPartitions};
    client::ClientOptions options;
    options.server = server.data_address();
    options.register_shuffle_on_push = true;
    for (uint32_t m = 0; m < maps; ++m) {
      auto writer =
          client::MapOutputWriter::Open(options, handle, core::MapId(m), core::AttemptId(7));
      ASSERT_TRUE(writer.ok()) << writer.status();
      for (uint32_t p = 0; p < kPartitions; ++p) {
        ASSERT_TRUE(
            (*writer)->WriteBlock(core::PartitionId(p), std::string(1000 + p, 'x'), 1).ok());
      }
      ASSERT_TRUE((*writer)->Commit().ok());
    }
  }

  // The peers' committed map outputs, from their /metrics.
  double PeerCommits() {
    double total = 0;
    for (const auto& peer : peers_) {
      auto page =
          testsupport::HttpGetOk(*core::Endpoint::Parse(peer->metrics_address()), "/metrics");
      EXPECT_TRUE(page.ok()) << page.status();
      const std::string key = "\nshuffle_commits_total ";
      const size_t at = page.ok() ? page->find(key) : std::string::npos;
      EXPECT_NE(at, std::string::npos);
      total += at == std::string::npos ? 0 : std::stod(page->substr(at + key.size()));
    }
    return total;
  }

  testsupport::TempDir dir_{"handover_k8s_test-"};
  std::string selector_;
  std::vector<std::unique_ptr<ServerProcess>> peers_;
};

TEST_F(HandOverK8sTest, ACordonedNodesServerHandsItsOutputsToThePeerPods) {
  StartPeers({"127.0.0.41", "127.0.0.42"});
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<ServerProcess> server = StartServer("leaving-" + ns_);
  ASSERT_NE(server, nullptr);
  WriteMaps(*server, 6);
  ASSERT_EQ(::kill(server->pid(), SIGTERM), 0);

  auto stub = proto::ShuffleControl::NewStub(
      grpc::CreateChannel(server->control_address(), grpc::InsecureChannelCredentials()));
  proto::GetMovedOutputsResponse moves;
  for (int i = 0; i < 600 && moves.state() != proto::GetMovedOutputsResponse::DONE; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    proto::GetMovedOutputsRequest request;
    request.mutable_credentials()->set_app_id(kApp);
    moves.Clear();
    const grpc::Status st = stub->GetMovedOutputs(&context, request, &moves);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(moves.state(), proto::GetMovedOutputsResponse::DONE);
  EXPECT_EQ(moves.unmoved_size(), 0);
  ASSERT_EQ(moves.moved_size(), 6);
  for (const proto::MovedMapOutput& m : moves.moved()) {
    const std::string& at = m.status().address();
    EXPECT_TRUE(at == "127.0.0.41:7340" || at == "127.0.0.42:7340") << at;
  }
  EXPECT_EQ(PeerCommits(), 6);
  EXPECT_TRUE(server->Terminate(60000).ok());
}

TEST_F(HandOverK8sTest, AServerOnANodeThatStaysMovesNothing) {
  StartPeers({"127.0.0.43", "127.0.0.44"});
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<ServerProcess> server = StartServer("staying-" + ns_);
  ASSERT_NE(server, nullptr);
  WriteMaps(*server, 3);
  ASSERT_TRUE(server->Terminate(60000).ok());
  EXPECT_EQ(PeerCommits(), 0);
}

}  // namespace
}  // namespace shuffle::k8stest
