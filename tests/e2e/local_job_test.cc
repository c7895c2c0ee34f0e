// End to end on the local backend: real shuffle-server, shuffle-executor processes on simulated
// nodes, the driver's scheduler and pod manager in this process. Each test checks the job's
// output against the regenerated input, and how many map tasks ran. In the TLS run
// (tests/support/tls_run.h) every server's TCP planes are encrypted (shuffle-driver
// --tls-cert-file ...): executors, the driver's calls and the hand-over go through TLS.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "driver/chaos/chaos.h"
#include "driver/podmanager/decommission.h"
#include "driver/podmanager/local_backend.h"
#include "driver/runner/job_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/tls_run.h"

namespace shuffle::runner {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class LocalJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A parameterized test's name has a '/' ("Name/0"): one directory level, not two, so that
    // TearDown removes all of it.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    root_ = fs::temp_directory_path() / ("shuffle-e2e-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(root_);
  }
  void TearDown() override {
    backend_.reset();  // kills every process it started
    if (!HasFailure() && std::getenv("SHUFFLE_KEEP_TEST_DIRS") == nullptr) {
      fs::remove_all(root_);
    } else {
      std::cerr << "logs kept in " << root_ << "\n";
    }
  }

  void StartCluster(uint32_t nodes, const std::string& executor_binary = SHUFFLE_EXECUTOR_BINARY) {
    auto backend = podmanager::LocalBackend::Start(
        {.root = root_.string(),
         .nodes = nodes,
         .server_binary = SHUFFLE_SERVER_BINARY,
         .executor_binary = executor_binary,
         .server_args = {"--memory-budget-mib=64", "--min-free-mib=16", "--log-level=warning"},
         .tls_cert_file = testsupport::RunServerTls().cert_file,
         .tls_key_file = testsupport::RunServerTls().key_file,
         .tls_ca_file = testsupport::RunCaFile()});
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
  }

  JobOptions Options(const std::string& kind, uint32_t maps, uint32_t partitions,
                     uint64_t records_per_map) {
    JobOptions o;
    o.job = jobs::Job::MakeSpec(kind, 11, maps, partitions, records_per_map);
    o.executors = 3;
    o.slots = 2;
    o.operator_secret = backend_->operator_secret();
    o.tls_ca_file = testsupport::RunCaFile();
    o.step_interval = std::chrono::milliseconds(20);
    o.timeout = std::chrono::seconds(240);
    return o;
  }

  fs::path root_;
  std::unique_ptr<podmanager::LocalBackend> backend_;
};

class ReferenceJobsTest : public LocalJobTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ReferenceJobsTest, ValidatesOnTheLocalBackend) {
  StartCluster(3);
  JobRunner runner(backend_.get(), Options(GetParam(), 12, 7, 20000));
  absl::StatusOr<JobReport> report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->status.ok()) << report->status;
  EXPECT_TRUE(report->validation.ok()) << report->validation;
  EXPECT_EQ(report->progress.map_attempts, 12u);
  EXPECT_EQ(report->progress.reduce_attempts, 7u);
  EXPECT_GT(report->progress.bytes_fetched, 0u);
  EXPECT_EQ(report->progress.bytes_fetched, report->progress.bytes_pushed);
  EXPECT_GT(report->freed_bytes, 0u);  // the application's data is removed at the end
}

INSTANTIATE_TEST_SUITE_P(AllJobs, ReferenceJobsTest,
                         ::testing::Values("sort", "wordcount", "groupby"));

TEST_F(LocalJobTest, EvictionsDuringTheReduceStageReRunNoMap) {
  StartCluster(3);
  JobOptions options = Options("sort", 16, 64, 160000);  // 256 MiB in 64 reduce tasks
  options.slots = 1;
  chaos::ChaosOptions evictions;
  evictions.evictions_during_reduce = 3;
  evictions.seed = static_cast<uint64_t>(time(nullptr));
  JobRunner runner(backend_.get(), options);
  absl::StatusOr<JobReport> report = chaos::RunWithChaos(runner, evictions);
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->evictions, 3u);
  EXPECT_EQ(report->pods.evicted, 3u);
  EXPECT_EQ(report->progress.map_attempts, 16u);  // == map partitions: no map re-ran
  EXPECT_GE(report->progress.reduce_attempts, 64u);
}

TEST_F(LocalJobTest, EvictionsDuringTheMapStageReRunOnlyTheEvictedTasks) {
  StartCluster(3);
  JobOptions options = Options("sort", 32, 6, 100000);  // 320 MB
  options.slots = 1;
  chaos::ChaosOptions evictions;
  evictions.evictions_during_map = 2;
  JobRunner runner(backend_.get(), options);
  absl::StatusOr<JobReport> report = chaos::RunWithChaos(runner, evictions);
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->pods.evicted, 2u);
  // Each evicted executor ran at most `slots` map tasks; only those ran again.
  EXPECT_EQ(report->progress.map_attempts,
            32u + report->progress.tasks_requeued_for_lost_executors);
  EXPECT_LE(report->progress.tasks_requeued_for_lost_executors, 2u * options.slots);
}

TEST_F(LocalJobTest, IdleExecutorsAreReleasedAtOnce) {
  StartCluster(3);
  JobOptions options = Options("sort", 9, 2, 100000);  // 2 reduce tasks for 3 executors
  options.slots = 1;
  JobRunner runner(backend_.get(), options);
  absl::StatusOr<JobReport> report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  EXPECT_TRUE(report->ok());
  EXPECT_GE(report->pods.released, 1u);
  EXPECT_EQ(report->progress.map_attempts, 9u);
  EXPECT_EQ(report->progress.tasks_requeued_for_lost_executors, 0u);  // only idle ones went
}

TEST_F(LocalJobTest, AServerLostForGoodCostsOnlyItsNodesMaps) {
  StartCluster(3);
  JobOptions options = Options("sort", 18, 24, 40000);
  JobRunner runner(backend_.get(), options);
  bool stopped = false;
  runner.set_tick([&](const scheduler::Progress& p) {
    if (!stopped && p.map_stage_complete && p.reduces_done >= 1) {
      stopped = true;
      ASSERT_TRUE(backend_->StopServer("node-1", /*remove_data=*/true).ok());
    }
  });
  absl::StatusOr<JobReport> report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(report->ok());
  const uint64_t rerun = report->progress.maps_rerun_for_lost_servers;
  EXPECT_GT(rerun, 0u);
  EXPECT_LT(rerun, 18u);
  // Exactly the lost node's maps ran a second time, and nothing else.
  EXPECT_EQ(report->progress.map_attempts, 18u + rerun);
  EXPECT_EQ(report->progress.task_failures, 0u);
}

// A server hands its outputs over on its own (as on SIGTERM while its node is cordoned, or an
// operator's `shufflectl decommission`): no event tells the driver, which learns the new places
// by asking the server (GetMovedOutputs, MoveFollower) before the node goes.
TEST_F(LocalJobTest, AServerThatHandsItsOutputsOverCostsNoMapReRun) {
  StartCluster(3);
  JobOptions options = Options("sort", 18, 24, 200000);
  JobRunner runner(backend_.get(), options);
  enum class Phase { kRunning, kGone } phase = Phase::kRunning;
  size_t moved = 0;
  runner.set_tick([&](const scheduler::Progress& p) {
    if (phase == Phase::kRunning && p.map_stage_complete && p.reduces_done >= 1) {
      std::string control;
      std::vector<podmanager::DecommissionPeer> peers;
      for (const podmanager::NodeInfo& node : backend_->Nodes()) {
        if (node.name == "node-1") {
          control = node.control_address;
        } else {
          peers.push_back(
              {.data_address = node.data_address, .control_address = node.control_address});
        }
      }
      auto result = podmanager::Decommission(control, backend_->operator_secret(), peers,
                                             std::chrono::seconds(60), testsupport::RunClientTls());
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_GT(result->moved.size(), 0u);
      ASSERT_TRUE(result->unmoved.empty());
      moved = result->moved.size();
      // The driver's MoveFollower re-points every output (bounded: 60 s)...
      for (int i = 0; i < 600 && runner.progress().maps_moved < moved; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      ASSERT_EQ(runner.progress().maps_moved, moved);
      // ...then the node goes, data and all.
      ASSERT_TRUE(backend_->StopServer("node-1", /*remove_data=*/true).ok());
      phase = Phase::kGone;
    }
  });
  absl::StatusOr<JobReport> report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  ASSERT_EQ(phase, Phase::kGone);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->progress.maps_moved, moved);
  EXPECT_EQ(report->progress.maps_rerun_for_lost_servers, 0u);
  EXPECT_EQ(report->progress.map_attempts, 18u);  // no map ran again
  EXPECT_EQ(report->progress.task_failures, 0u);
}

TEST_F(LocalJobTest, ExecutorsThatCannotStartFailTheJobWithTheReason) {
  StartCluster(1, "/bin/false");
  JobRunner runner(backend_.get(), Options("sort", 2, 2, 100));
  absl::StatusOr<JobReport> report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(report->status.message(), HasSubstr("in a row ended within"));
  EXPECT_THAT(report->status.message(), HasSubstr("exit code 1"));
}

}  // namespace
}  // namespace shuffle::runner
