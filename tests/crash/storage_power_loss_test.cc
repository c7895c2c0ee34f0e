// Power-loss suite for the storage engine. A child process runs the crash workload
// (crash_workload.h) on an engine whose Env is a FaultInjectionEnv with a PowerLoss model (and
// RocksDB's file system under the same model), and the power is cut either at a random instant
// or at the n-th time a named crash point (crash_points.h) is reached: everything not synced is
// dropped (file data and sizes to their last sync, directory entries not synced in their parent)
// and the child dies. Each child first recovers what the previous one left, under the model too,
// so crashes during recovery and removal are covered. The parent checks a copy of the directory
// after each cut: recovery succeeds, every acknowledged commit reads back byte-exact, nothing of
// an attempt that never called Commit is served, one attempt per map.
//
// Iterations: SHUFFLE_CRASH_ITERATIONS (default 40; the `long` ctest label runs 300).
// Seed: SHUFFLE_CRASH_SEED (default: fixed), printed so a failure can be replayed.
// A build with -DSHUFFLE_SYNC_REMOVAL=ON runs it with syncs removed (tools/durability-matrix).
// The children are this binary again, started with --power-loss-child (see StartChild).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <sys/wait.h>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle-server/storage/fault_injection_env.h"
#include "shuffle-server/storage/power_loss.h"
#include "shuffle/core/logging.h"
#include "tests/crash/crash_workload.h"

namespace shuffle::storage::crash {
namespace {

// How one child's power is cut: at `point`'s `hit`-th time (when set; the timer then starts once
// the engine is open and `delay_ms` only bounds the wait), else `delay_ms` after the child starts
// (so many cuts land in recovery).
struct CutPlan {
  std::string point;
  int hit = 0;
  int delay_ms = 0;
};

CutPlan ChooseCut(std::mt19937& rng) {
  CutPlan plan;
  plan.delay_ms =
      rng() % 4 == 0 ? 30 + static_cast<int>(rng() % 700) : 30 + static_cast<int>(rng() % 250);
  if (rng() % 2 == 0) {
    plan.point = std::string(crash_point::kAll[rng() % crash_point::kAll.size()]);
    // Round points are reached many times per child; the others once (recovery:shuffle once per
    // shuffle).
    const bool per_round = plan.point.rfind("round:", 0) == 0 || plan.point == "log:rotated";
    const int hits = per_round ? 12 : plan.point == crash_point::kRecoveryShuffle ? 2 : 1;
    plan.hit = 1 + static_cast<int>(rng() % hits);
    plan.delay_ms += 1000;  // give the point time to be reached
  }
  return plan;
}

// The child, a fresh process (exec'd: a forked copy of the parent would inherit RocksDB's
// background thread pool without its threads, so flushes and compactions would never run):
// recovers, removes the shuffle two generations back, runs the workload; the power is cut by the
// plan (the timer bounds its life).
[[noreturn]] void RunChild(const std::string& root, uint32_t iteration, const CutPlan& plan,
                           const std::vector<uint32_t>& retry, int fd) {
  core::SetLogLevel(core::LogLevel::kError);
  auto power = PowerLoss::Create(root);
  if (!power.ok()) {
    Report(fd, "E power loss model: " + std::string(power.status().message()) + "\n");
    _exit(3);
  }
  FaultInjectionEnv env(Env::Default(), power->get());
  env.OnCrash([fd](std::string_view reason) { Report(fd, "C " + std::string(reason) + "\n"); });
  if (!plan.point.empty()) {
    env.CrashAtPoint(plan.point, plan.hit);
  }
  auto start_timer = [&env, delay = plan.delay_ms] {
    std::thread([&env, delay] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      env.Crash("timer");
    }).detach();
  };
  if (plan.point.empty()) {
    start_timer();
  }
  auto engine = StorageEngine::Open(testing::SmallOptions(root, &env));
  if (!engine.ok()) {
    Report(fd, "E open " + std::string(engine.status().message()) + "\n");
    _exit(3);
  }
  if (!plan.point.empty()) {
    start_timer();
  }
  if (ShuffleOf(iteration) >= 2) {
    absl::StatusOr<uint64_t> removed = (*engine)->RemoveShuffle(KeyOf(ShuffleOf(iteration) - 2));
    if (!removed.ok() && !absl::IsNotFound(removed.status())) {
      Report(fd, "E remove " + std::string(removed.status().message()) + "\n");
    }
  }
  RunWorkload(**engine, iteration, retry, fd);
  std::this_thread::sleep_for(std::chrono::seconds(20));  // the timer cuts the power first
  _exit(0);
}

constexpr std::string_view kChildFlag = "--power-loss-child";

// Starts the child: this binary again, with kChildFlag and the child's arguments.
pid_t StartChild(const std::string& root, uint32_t iteration, const CutPlan& plan,
                 const std::vector<uint32_t>& retry, int fd) {
  std::string maps;
  for (uint32_t map : retry) {
    maps += (maps.empty() ? "" : ",") + std::to_string(map);
  }
  std::vector<std::string> args = {"storage_power_loss_test",
                                   std::string(kChildFlag),
                                   root,
                                   std::to_string(iteration),
                                   plan.point.empty() ? "-" : plan.point,
                                   std::to_string(plan.hit),
                                   std::to_string(plan.delay_ms),
                                   std::to_string(fd),
                                   maps.empty() ? "-" : maps};
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

// The child's side of StartChild.
[[noreturn]] void ChildMain(char** argv) {
  CutPlan plan;
  plan.point = std::string(argv[3]) == "-" ? "" : argv[3];
  plan.hit = std::atoi(argv[4]);
  plan.delay_ms = std::atoi(argv[5]);
  std::vector<uint32_t> retry;
  if (std::string(argv[7]) != "-") {
    for (absl::string_view map : absl::StrSplit(argv[7], ',')) {
      retry.push_back(static_cast<uint32_t>(std::atoi(std::string(map).c_str())));
    }
  }
  RunChild(argv[1], static_cast<uint32_t>(std::atoi(argv[2])), plan, retry, std::atoi(argv[6]));
}

TEST(StoragePowerLossTest, AcknowledgedCommitsSurvivePowerCuts) {
  const uint32_t iterations = IterationsFromEnv(40);
  const uint32_t seed = SeedFromEnv(20261204);
  std::printf("power-loss test: %u iterations, seed %u\n", iterations, seed);
  core::SetLogLevel(core::LogLevel::kWarning);
  testing::TempDir top;
  const std::string root = top.path() + "/data";
  const std::string copy = top.path() + "/verify";
  std::filesystem::create_directories(root);
  std::mt19937 rng(seed);
  Observed observed;
  std::map<std::string, int> cuts;  // how the power was cut -> count
  uint32_t mid_commit = 0;
  for (uint32_t iteration = 0; iteration < iterations; ++iteration) {
    const CutPlan plan = ChooseCut(rng);
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    // The child's end stays open across exec; the parent's read end does not.
    ASSERT_EQ(fcntl(fds[1], F_SETFD, 0), 0);
    const pid_t pid = StartChild(root, iteration, plan, MapsToRetry(iteration, observed), fds[1]);
    ASSERT_GE(pid, 0);
    close(fds[1]);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    const std::string text = ReadPipe(fds[0]);
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child was not cut (status " << wstatus << ")";
    const size_t crashes_before = observed.crashes.size();
    ParseRecords(text, &observed);
    ASSERT_TRUE(observed.errors.empty())
        << "iteration " << iteration << ": child reported: " << observed.errors.front();
    ASSERT_EQ(observed.crashes.size(), crashes_before + 1) << "child died without a power cut";
    const std::string& how = observed.crashes.back();
    ++cuts[how.rfind("point ", 0) == 0 ? how : "random instant"];
    mid_commit += CrashedMidCommit(observed, iteration) ? 1 : 0;
    // Verify a copy: the next child recovers the original under the power-loss model.
    std::filesystem::remove_all(copy);
    std::filesystem::copy(root, copy, std::filesystem::copy_options::recursive);
    Verify(testing::SmallOptions(copy), iteration, &observed);
    if (::testing::Test::HasFatalFailure()) {
      std::printf("failed at iteration %u (seed %u), power cut by %s\n", iteration, seed,
                  how.c_str());
      return;
    }
  }
  std::printf(
      "power-loss test: %u cuts, %zu acknowledged commits verified, %zu maps served, %u "
      "cuts between a commit's call and its acknowledgement\n",
      iterations, observed.acked_winner.size(), observed.served_winner.size(), mid_commit);
  for (const auto& [how, count] : cuts) {
    std::printf("  cut at %s: %d\n", how.c_str(), count);
  }
  EXPECT_GT(observed.acked_winner.size(), 0u);
}

}  // namespace
}  // namespace shuffle::storage::crash

int main(int argc, char** argv) {
  if (argc == 9 && argv[1] == shuffle::storage::crash::kChildFlag) {
    shuffle::storage::crash::ChildMain(argv + 1);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
