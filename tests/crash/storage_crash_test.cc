// Crash suite for the storage engine: a child process runs the crash workload (crash_workload.h)
// and is killed with SIGKILL at a random instant; the parent then reopens the engine (recovery)
// and checks the workload's invariants after every kill. SIGKILL keeps the page cache, so this
// suite proves the engine's ordering against process death; storage_power_loss_test proves it
// against power loss, where unsynced data is gone too.
//
// Iterations: SHUFFLE_CRASH_ITERATIONS (default 50; the `long` ctest label runs 200).
// Seed: SHUFFLE_CRASH_SEED (default: fixed), printed so a failure can be replayed.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <sys/wait.h>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/core/logging.h"
#include "tests/crash/crash_workload.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage::crash {
namespace {

// The child: runs until killed (or 20 s, a bound in case the parent dies).
[[noreturn]] void RunChild(const std::string& dir, uint32_t iteration, const Observed& observed,
                           int fd) {
  core::SetLogLevel(core::LogLevel::kError);
  auto engine = StorageEngine::Open(testing::SmallOptions(dir));
  if (!engine.ok()) {
    Report(fd, "E open " + std::string(engine.status().message()) + "\n");
    _exit(3);
  }
  RunWorkload(**engine, iteration, MapsToRetry(iteration, observed), fd);
  std::this_thread::sleep_for(std::chrono::seconds(20));
  _exit(0);
}

TEST(StorageCrashTest, AcknowledgedCommitsSurviveSigkillAtRandomInstants) {
  const uint32_t iterations = IterationsFromEnv(50);
  const uint32_t seed = SeedFromEnv(20261123);
  std::printf("crash test: %u iterations, seed %u\n", iterations, seed);
  core::SetLogLevel(core::LogLevel::kWarning);
  testsupport::TempDir dir;
  std::mt19937 rng(seed);
  Observed observed;
  uint32_t killed_mid_work = 0;
  for (uint32_t iteration = 0; iteration < iterations; ++iteration) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::fflush(nullptr);  // the child must not inherit (and print again) buffered output
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(dir.path(), iteration, observed, fds[1]);
    }
    close(fds[1]);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(rng() % 4 == 0 ? rng() % 600 : 20 + rng() % 160));
    kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    const std::string text = ReadPipe(fds[0]);
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited by itself (status " << wstatus << ")";
    ParseRecords(text, &observed);
    ASSERT_TRUE(observed.errors.empty()) << "child reported: " << observed.errors.front();
    killed_mid_work += CrashedMidCommit(observed, iteration) ? 1 : 0;
    std::unique_ptr<StorageEngine> engine;
    Verify(testing::SmallOptions(dir.path()), iteration, &observed, &engine);
    if (::testing::Test::HasFatalFailure()) {
      std::printf("failed at iteration %u (seed %u)\n", iteration, seed);
      return;
    }
    // Keep the disk bounded: drop the shuffle two generations back (removal is also under test).
    if (ShuffleOf(iteration) >= 2) {
      (void)engine->RemoveShuffle(KeyOf(ShuffleOf(iteration) - 2));
    }
  }
  std::printf(
      "crash test: %u kills, %zu acknowledged commits verified, %zu maps served, "
      "%u kills landed between a commit's call and its acknowledgement\n",
      iterations, observed.acked_winner.size(), observed.served_winner.size(), killed_mid_work);
  EXPECT_GT(observed.acked_winner.size(), 0u);
}

}  // namespace
}  // namespace shuffle::storage::crash
