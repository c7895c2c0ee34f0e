// The local cluster's node faults against the real kernel: NodeNetwork's namespaces, bridge and
// partitions (a shuffle-server in one node, health-checked from another node and from the
// driver's namespace), and DiskThrottle's blkio group. Both need root, as chaos runs do. In the
// TLS run (tests/support/tls_run.h) the server serves TLS and the health checks go through it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <sys/stat.h>

#include "absl/strings/str_split.h"
#include "driver/podmanager/disk_throttle.h"
#include "driver/podmanager/node_network.h"
#include "gtest/gtest.h"
#include "shuffle/core/process.h"
#include "tests/support/program.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::podmanager {
namespace {

namespace fs = std::filesystem;

class NodeFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = tmp_.path(); }

  // Runs a program (in `netns` when not empty) to its end; its exit code, or -1.
  int RunToEnd(std::vector<std::string> argv, const std::string& netns = "") {
    core::ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.netns = netns;
    spec.log_path = (dir_ / "commands.log").string();
    absl::StatusOr<std::unique_ptr<core::Process>> process = core::Process::Spawn(spec);
    if (!process.ok()) {
      ADD_FAILURE() << process.status();
      return -1;
    }
    std::optional<core::ExitInfo> exit = (*process)->Wait(std::chrono::seconds(60));
    return exit.has_value() && exit->signal == 0 ? exit->exit_code : -1;
  }

  // `shufflectl health` against `control`, from `netns`: 0 when the server answers.
  int Health(const std::string& control, const std::string& netns) {
    std::vector<std::string> argv = {SHUFFLECTL_BINARY, "--server=" + control,
                                     "--timeout-seconds=2"};
    // Dialled by the node's address, which the run's certificate does not name.
    for (const std::string& flag : testsupport::RunCtlTlsArgs("localhost")) {
      argv.push_back(flag);
    }
    argv.emplace_back("health");
    return RunToEnd(argv, netns);
  }

  testsupport::TempDir tmp_{"shuffle-node-faults-"};
  fs::path dir_;
};

TEST_F(NodeFaultsTest, NodesReachEachOtherUntilOneIsPartitionedAndAgainWhenHealed) {
  std::string ns0;
  std::string ns1;
  {
    absl::StatusOr<std::unique_ptr<NodeNetwork>> network =
        NodeNetwork::Create(2, (dir_ / "network.log").string());
    ASSERT_TRUE(network.ok()) << network.status();
    ns0 = (*network)->NamespacePath(0);
    ns1 = (*network)->NamespacePath(1);
    EXPECT_TRUE(fs::exists(ns0));
    EXPECT_NE((*network)->NodeAddress(0), (*network)->NodeAddress(1));

    // A server on node 1, bound to node 1's address.
    const std::string ready = (dir_ / "ready").string();
    core::ProcessSpec spec;
    spec.argv = {SHUFFLE_SERVER_BINARY,
                 "--data-dir=" + (dir_ / "data").string(),
                 "--listen=" + (*network)->NodeAddress(1) + ":0",
                 "--control-listen=" + (*network)->NodeAddress(1) + ":0",
                 "--metrics-listen=",
                 "--ready-file=" + ready};
    for (const std::string& flag : testsupport::RunServerTlsArgs()) {
      spec.argv.push_back(flag);
    }
    spec.netns = ns1;
    spec.log_path = (dir_ / "server.log").string();
    absl::StatusOr<std::unique_ptr<core::Process>> server = core::Process::Spawn(spec);
    ASSERT_TRUE(server.ok()) << server.status();
    absl::StatusOr<core::ReadyFile> announced =
        testsupport::AwaitServerReady(**server, ready, std::chrono::seconds(30));
    ASSERT_TRUE(announced.ok()) << announced.status() << core::LogTail(spec.log_path, 2000);
    ASSERT_TRUE(announced->Find(core::ReadyFile::kControl).has_value());
    const std::string control = announced->Find(core::ReadyFile::kControl)->ToString();

    EXPECT_EQ(Health(control, ns0), 0) << "node 0 reaches node 1";
    EXPECT_EQ(Health(control, ""), 0) << "the driver's namespace reaches node 1";
    ASSERT_TRUE((*network)->Partition(1).ok());
    EXPECT_EQ(Health(control, ns0), 1) << "a partitioned node is out of reach";
    EXPECT_EQ(Health(control, ""), 1);
    EXPECT_TRUE((*server)->running()) << "its processes run on";
    ASSERT_TRUE((*network)->Heal(1).ok());
    EXPECT_EQ(Health(control, ns0), 0) << "healed";
    (*server)->Stop(std::chrono::seconds(10));
  }
  EXPECT_FALSE(fs::exists(ns0)) << "the namespaces go with the network";
  EXPECT_FALSE(fs::exists(ns1));
}

TEST_F(NodeFaultsTest, ThrottledProcessesDoTheirDirectIoThroughTheGroup) {
  absl::StatusOr<std::unique_ptr<DiskThrottle>> throttle =
      DiskThrottle::Create("test", dir_.string(), 64ull << 20);
  ASSERT_TRUE(throttle.ok()) << throttle.status();
  // The writer waits on a FIFO until it is in the group, so all its I/O is counted there.
  const std::string fifo = (dir_ / "go").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  core::ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c",
               "read go < " + fifo + " && exec dd if=/dev/zero of=" + (dir_ / "out").string() +
                   " bs=1M count=8 oflag=direct"};
  spec.log_path = (dir_ / "dd.log").string();
  absl::StatusOr<std::unique_ptr<core::Process>> writer = core::Process::Spawn(spec);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*throttle)->Add((*writer)->pid()).ok());
  std::ofstream(fifo) << "go\n";
  std::optional<core::ExitInfo> exit = (*writer)->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(exit.has_value());
  ASSERT_EQ(exit->exit_code, 0) << core::LogTail(spec.log_path, 1000);
  absl::StatusOr<uint64_t> bytes = (*throttle)->BytesThrough();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_GE(*bytes, 8u << 20) << "the direct writes went through the throttled group";
}

TEST_F(NodeFaultsTest, ADirectoryOnNoBlockDeviceIsRefusedWithAReason) {
  absl::StatusOr<std::unique_ptr<DiskThrottle>> throttle =
      DiskThrottle::Create("proc", "/proc", 1 << 20);
  ASSERT_FALSE(throttle.ok());
  EXPECT_EQ(throttle.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(throttle.status().message().find("no block device"), std::string::npos)
      << throttle.status();
}

}  // namespace
}  // namespace shuffle::podmanager
