// The pod manager on the local backend, with stand-in executors (a shell script that sleeps), so
// that launching, replacing, scaling, evicting and server supervision are checked on their own.
// In the TLS run (tests/support/tls_run.h) the servers serve TLS.
#include "driver/podmanager/pod_manager.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "driver/podmanager/local_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/tls_run.h"

namespace shuffle::podmanager {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class RecordingListener : public PodManager::Listener {
 public:
  void OnExecutorEnded(const BackendEvent& event) override {
    absl::MutexLock lock(&mu_);
    ended_.push_back(event);
  }
  void OnOutputsMoved(const std::string& /*node*/,
                      const std::vector<MovedOutput>& /*moved*/) override {}
  void OnServerLost(const std::string& node) override {
    absl::MutexLock lock(&mu_);
    lost_.push_back(node);
  }
  void OnFatal(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    fatal_ = status;
  }
  // Waits (bounded) until `pred` holds over the recorded events.
  template <typename Pred>
  bool WaitFor(Pred pred) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(*this); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(20));
  }

  absl::Mutex mu_;
  std::vector<BackendEvent> ended_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> lost_ ABSL_GUARDED_BY(mu_);
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
};

class PodManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("shuffle-podmanager-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    sleeper_ = (root_ / "fake-executor").string();
    std::ofstream(sleeper_) << "#!/bin/sh\nexec sleep 600\n";
    fs::permissions(sleeper_, fs::perms::owner_all);
  }
  void TearDown() override {
    manager_.reset();
    backend_.reset();
    fs::remove_all(root_);
  }
  void Start(uint32_t nodes, const std::string& executor, uint32_t executors) {
    LocalBackendOptions options;
    options.root = (root_ / "cluster").string();
    options.nodes = nodes;
    options.server_binary = SHUFFLE_SERVER_BINARY;
    options.executor_binary = executor;
    options.server_args = {"--log-level=warning", "--min-free-mib=16"};
    options.tls_cert_file = testsupport::RunServerTls().cert_file;
    options.tls_key_file = testsupport::RunServerTls().key_file;
    options.tls_ca_file = testsupport::RunCaFile();
    auto backend = LocalBackend::Start(options);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    PodManagerOptions pods;
    pods.executors = executors;
    pods.driver_address = "127.0.0.1:1";
    manager_ = std::make_unique<PodManager>(backend_.get(), pods, &listener_);
    ASSERT_TRUE(manager_->Start().ok());
  }

  fs::path root_;
  std::string sleeper_;
  RecordingListener listener_;
  std::unique_ptr<LocalBackend> backend_;
  std::unique_ptr<PodManager> manager_;
};

TEST_F(PodManagerTest, ExecutorsAreSpreadOverTheNodes) {
  Start(3, sleeper_, 6);
  for (const NodeInfo& node : backend_->Nodes()) {
    EXPECT_TRUE(node.server_up);
    EXPECT_EQ(node.executors, 2u) << node.name;
  }
}

TEST_F(PodManagerTest, AnEvictedExecutorIsReplacedUnderANewId) {
  Start(2, sleeper_, 2);
  ASSERT_TRUE(manager_->Evict("exec-1").ok());
  ASSERT_TRUE(listener_.WaitFor([](RecordingListener& l)
                                    ABSL_NO_THREAD_SAFETY_ANALYSIS { return !l.ended_.empty(); }));
  {
    absl::MutexLock lock(&listener_.mu_);
    EXPECT_EQ(listener_.ended_[0].executor_id, "exec-1");
    EXPECT_TRUE(listener_.ended_[0].evicted);
    EXPECT_THAT(listener_.ended_[0].detail, HasSubstr("SIGKILL"));
  }
  EXPECT_THAT(manager_->Live(), ::testing::UnorderedElementsAre("exec-2", "exec-3"));
  EXPECT_EQ(manager_->stats().evicted, 1u);
  EXPECT_EQ(manager_->stats().replaced, 1u);
}

TEST_F(PodManagerTest, ScalingDownReleasesOnlyIdleExecutorsAndScalingUpLaunches) {
  Start(2, sleeper_, 4);
  ASSERT_TRUE(manager_->ScaleTo(1, [](const std::string& id) { return id != "exec-1"; }).ok());
  EXPECT_THAT(manager_->Live(), ::testing::ElementsAre("exec-1"));
  ASSERT_TRUE(listener_.WaitFor(
      [](RecordingListener& l) ABSL_NO_THREAD_SAFETY_ANALYSIS { return l.ended_.size() == 3; }));
  EXPECT_EQ(manager_->stats().released, 3u);
  EXPECT_EQ(backend_->Executors().size(), 1u);
  // Asking again releases no one twice and keeps the busy one.
  ASSERT_TRUE(manager_->ScaleTo(0, [](const std::string& id) { return id != "exec-1"; }).ok());
  EXPECT_THAT(manager_->Live(), ::testing::ElementsAre("exec-1"));
  ASSERT_TRUE(manager_->ScaleTo(3, [](const std::string&) { return true; }).ok());
  EXPECT_EQ(manager_->Live().size(), 3u);
  EXPECT_EQ(manager_->stats().launched, 6u);
}

TEST_F(PodManagerTest, ACrashedServerIsRestartedOnItsPortsAndALostOneIsReported) {
  Start(2, sleeper_, 0);
  const std::string address = backend_->Nodes()[0].data_address;
  ASSERT_TRUE(backend_->KillServer("node-0").ok());
  for (int i = 0; i < 400 && backend_->ServerStarts("node-0") < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(backend_->ServerStarts("node-0"), 2u);
  EXPECT_EQ(backend_->Nodes()[0].data_address, address);
  ASSERT_TRUE(backend_->StopServer("node-1", /*remove_data=*/true).ok());
  ASSERT_TRUE(listener_.WaitFor([](RecordingListener& l)
                                    ABSL_NO_THREAD_SAFETY_ANALYSIS { return !l.lost_.empty(); }));
  EXPECT_FALSE(backend_->Nodes()[1].server_up);
  EXPECT_FALSE(fs::exists(root_ / "cluster" / "node-1" / "data"));
  // Executors now go to the node that still has a server.
  ASSERT_TRUE(manager_->ScaleTo(2, [](const std::string&) { return true; }).ok());
  EXPECT_EQ(backend_->Executors("node-0").size(), 2u);
}

TEST_F(PodManagerTest, ExecutorsThatDieAtOnceAreFatalNotReplacedForever) {
  Start(1, "/bin/false", 2);
  ASSERT_TRUE(listener_.WaitFor([](RecordingListener& l)
                                    ABSL_NO_THREAD_SAFETY_ANALYSIS { return !l.fatal_.ok(); }));
  absl::MutexLock lock(&listener_.mu_);
  EXPECT_THAT(listener_.fatal_.message(), HasSubstr("exit code 1"));
  EXPECT_LE(manager_->stats().launched, 10u);
}

// An executor that exits with code 0 was told to stop by the driver (its job is over): neither a
// crash loop nor replaced.
TEST_F(PodManagerTest, ExecutorsTheDriverStoppedAreNeitherACrashLoopNorReplaced) {
  Start(1, "/bin/true", 2);
  ASSERT_TRUE(listener_.WaitFor(
      [](RecordingListener& l) ABSL_NO_THREAD_SAFETY_ANALYSIS { return l.ended_.size() == 2; }));
  absl::MutexLock lock(&listener_.mu_);
  EXPECT_TRUE(listener_.fatal_.ok()) << listener_.fatal_;
  EXPECT_TRUE(listener_.ended_[0].clean);
  EXPECT_EQ(manager_->stats().launched, 2u);
  EXPECT_EQ(manager_->stats().replaced, 0u);
  EXPECT_EQ(manager_->stats().failed, 0u);
}

}  // namespace
}  // namespace shuffle::podmanager
