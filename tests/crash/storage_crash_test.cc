// Crash suite for the storage engine. A child process runs concurrent map attempts (small blocks,
// large direct blocks, speculative and abandoned attempts) and is killed with SIGKILL at a random
// instant; the parent then reopens the engine (recovery) and checks, after every kill:
//  - every acknowledged commit is served, complete and byte-exact (hence checksum-clean);
//  - nothing is served for an attempt that never called Commit (uncommitted data never leaks);
//  - at most one attempt of a map is served, and a map once served keeps the same attempt;
//  - every served attempt is served completely, with no duplicate block.
// The child reports "intent" before each Commit call and "ack" after it returns, one write(2)
// per record on a pipe, so the parent knows exactly what was acknowledged before the kill.
//
// Iterations: SHUFFLE_CRASH_ITERATIONS (default 50; the `long` ctest label runs 200).
// Seed: SHUFFLE_CRASH_SEED (default: fixed), printed so a failure can be replayed.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <sys/wait.h>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/core/logging.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage {
namespace {

using core::AppId;
using core::AttemptId;
using core::MapId;
using core::PartitionId;
using core::ShuffleId;

constexpr uint32_t kPartitions = 6;
constexpr uint32_t kThreads = 3;
constexpr uint32_t kMapsPerThread = 30;
constexpr uint32_t kIterationsPerShuffle = 8;
const AppId kApp("crash-app");

struct PlannedBlock {
  uint32_t partition;
  uint32_t seq;
  size_t size;
};

// What attempt `attempt` of `map` pushes: a pure function, so the verifier can recompute it.
std::vector<PlannedBlock> Plan(uint32_t map, uint32_t attempt) {
  std::mt19937 rng(map * 7919u + attempt * 104729u + 17u);
  std::vector<PlannedBlock> plan;
  uint32_t seq = 0;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    const uint32_t n = rng() % 4;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t kind = rng() % 20;
      const size_t size = kind == 0 ? 70000 : kind < 8 ? 9000 : kind < 14 ? 2000 : 200;
      plan.push_back({p, seq++, size});
    }
  }
  return plan;
}

uint32_t ShuffleOf(uint32_t iteration) { return iteration / kIterationsPerShuffle; }

void Report(int fd, const std::string& line) {
  // One write per record: atomic on a pipe (records are far below PIPE_BUF).
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
}

bool PushAttempt(StorageEngine& engine, const ShuffleKey& key, uint32_t map, uint32_t attempt,
                 uint64_t* blocks, uint64_t* bytes) {
  const std::vector<PlannedBlock> plan = Plan(map, attempt);
  *blocks = plan.size();
  *bytes = 0;
  // Push per partition, in plan order (the engine numbers blocks in push order).
  size_t i = 0;
  while (i < plan.size()) {
    std::vector<std::string> storage;
    std::vector<PushedBlock> batch;
    const uint32_t partition = plan[i].partition;
    for (; i < plan.size() && plan[i].partition == partition; ++i) {
      storage.push_back(testing::MakeBlock(key.shuffle.value(), map, attempt, partition,
                                           plan[i].seq, plan[i].size));
      *bytes += storage.back().size();
    }
    batch.reserve(storage.size());
    for (const std::string& s : storage) {
      batch.push_back({PartitionId(partition), s});
    }
    if (!engine.Push(key, MapId(map), AttemptId(attempt), batch).ok()) {
      return false;
    }
  }
  return true;
}

void CommitAttempt(StorageEngine& engine, const ShuffleKey& key, uint32_t map, uint32_t attempt,
                   uint64_t blocks, uint64_t bytes, int fd) {
  Report(fd, "I " + std::to_string(map) + " " + std::to_string(attempt) + "\n");
  auto result = engine.Commit(key, {.map = MapId(map),
                                    .attempt = AttemptId(attempt),
                                    .num_partitions = kPartitions,
                                    .expected_blocks = blocks,
                                    .expected_bytes = bytes});
  if (!result.ok()) {
    Report(fd,
           "E commit " + std::to_string(map) + " " + std::string(result.status().message()) + "\n");
    return;
  }
  Report(fd, "A " + std::to_string(map) + " " + std::to_string(attempt) + " " +
                 std::to_string(result->won ? 1 : 0) + " " +
                 std::to_string(result->winner.attempt) + "\n");
}

// The child: runs until killed (or 20 s, a bound in case the parent dies).
[[noreturn]] void RunChild(const std::string& dir, uint32_t iteration, int fd) {
  core::SetLogLevel(core::LogLevel::kError);
  auto engine = StorageEngine::Open(testing::SmallOptions(dir));
  if (!engine.ok()) {
    Report(fd, "E open " + std::string(engine.status().message()) + "\n");
    _exit(3);
  }
  const RecoveryReport& report = (*engine)->recovery_report();
  if (report.corrupt_log_blocks > 0) {
    Report(fd, "E child recovery found " + std::to_string(report.corrupt_log_blocks) +
                   " corrupt log blocks\n");
  }
  const ShuffleKey key{kApp, ShuffleId(ShuffleOf(iteration))};
  if (!(*engine)->RegisterShuffle(key, "ns", kPartitions).ok()) {
    Report(fd, "E register\n");
    _exit(3);
  }
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t k = 0; k < kMapsPerThread; ++k) {
        const uint32_t map = iteration * 1000 + t * 100 + k;
        uint64_t blocks0 = 0;
        uint64_t bytes0 = 0;
        uint64_t blocks1 = 0;
        uint64_t bytes1 = 0;
        if (k % 3 == 1) {  // speculative pair: attempt 1 commits first, attempt 0 loses
          if (PushAttempt(**engine, key, map, 0, &blocks0, &bytes0) &&
              PushAttempt(**engine, key, map, 1, &blocks1, &bytes1)) {
            CommitAttempt(**engine, key, map, 1, blocks1, bytes1, fd);
            CommitAttempt(**engine, key, map, 0, blocks0, bytes0, fd);
          }
        } else if (k % 3 == 2) {  // abandoned attempt 2, then attempt 3 commits
          (void)PushAttempt(**engine, key, map, 2, &blocks0, &bytes0);
          if (PushAttempt(**engine, key, map, 3, &blocks1, &bytes1)) {
            CommitAttempt(**engine, key, map, 3, blocks1, bytes1, fd);
          }
        } else if (PushAttempt(**engine, key, map, 0, &blocks0, &bytes0)) {
          CommitAttempt(**engine, key, map, 0, blocks0, bytes0, fd);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // Reads and seals while waiting for the kill.
  (void)(*engine)->Read(
      key, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  (void)(*engine)->Seal(key);
  std::this_thread::sleep_for(std::chrono::seconds(20));
  _exit(0);
}

struct Observed {
  std::set<std::pair<uint32_t, uint32_t>> intents;  // (map, attempt) that called Commit
  std::map<uint32_t, uint32_t> acked_winner;        // map -> winner attempt it was told
  std::map<uint32_t, uint32_t> served_winner;       // map -> attempt seen served
  std::vector<std::string> errors;
};

void ParseRecords(const std::string& text, Observed* observed) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "I") {
      uint32_t map = 0;
      uint32_t attempt = 0;
      fields >> map >> attempt;
      observed->intents.insert({map, attempt});
    } else if (kind == "A") {
      uint32_t map = 0;
      uint32_t attempt = 0;
      int won = 0;
      uint32_t winner = 0;
      fields >> map >> attempt >> won >> winner;
      observed->acked_winner[map] = winner;
    } else if (!line.empty()) {
      observed->errors.push_back(line);
    }
  }
}

// Prints what the index says about one map: its commit, and every extent or log entry of it.
void DumpIndex(const std::string& dir, uint32_t map) {
  auto index = Index::Open(dir + "/d0/index");
  if (!index.ok()) {
    std::printf("cannot open index: %s\n", std::string(index.status().message()).c_str());
    return;
  }
  for (uint64_t handle = 1; handle < 64; ++handle) {
    (void)(*index)->ForEachCommit(handle, [&](const CommitRecord& c) {
      if (c.map == map) {
        std::printf("handle %llu commit: attempt %u epoch %u\n",
                    static_cast<unsigned long long>(handle), c.attempt, c.epoch);
      }
      return absl::OkStatus();
    });
    (void)(*index)->ForEachExtent(handle, [&](const ExtentRecord& e) {
      for (const BlockEntry& b : e.blocks) {
        if (b.map == map) {
          std::printf("  extent p%u dir %u off %llu: attempt %u epoch %u seq %u len %u\n",
                      e.partition, e.dir, static_cast<unsigned long long>(e.offset), b.attempt,
                      b.epoch, b.seq, b.length);
        }
      }
      return absl::OkStatus();
    });
    (void)(*index)->ForEachLog(handle, [&](const LogRecord& l) {
      for (const BlockEntry& b : l.blocks) {
        if (b.map == map) {
          std::printf("  log %u off %llu: attempt %u epoch %u seq %u\n", l.log_no,
                      static_cast<unsigned long long>(l.offset), b.attempt, b.epoch, b.seq);
        }
      }
      return absl::OkStatus();
    });
  }
}

void Verify(const std::string& dir, uint32_t iteration, Observed* observed) {
  auto engine = StorageEngine::Open(testing::SmallOptions(dir));
  ASSERT_TRUE(engine.ok()) << engine.status();
  const RecoveryReport& report = (*engine)->recovery_report();
  // An fsync'd log region can never hold a corrupt block.
  ASSERT_EQ(report.corrupt_log_blocks, 0u);
  std::printf(
      "iteration %u: recovered %llu commits, %llu extents, replayed %llu log blocks "
      "(%llu already in extents), cut %llu bytes\n",
      iteration, static_cast<unsigned long long>(report.commits),
      static_cast<unsigned long long>(report.extents),
      static_cast<unsigned long long>(report.log_blocks_replayed),
      static_cast<unsigned long long>(report.log_blocks_already_in_extents),
      static_cast<unsigned long long>(report.bytes_truncated));
  std::map<uint32_t, std::map<uint32_t, std::vector<ServedBlock>>> by_map;  // map -> attempt
  for (uint32_t s = 0; s <= ShuffleOf(iteration); ++s) {
    const ShuffleKey key{kApp, ShuffleId(s)};
    auto blocks = (*engine)->Read(
        key, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
    if (absl::IsNotFound(blocks.status())) {
      continue;  // removed, or the child was killed before registering it
    }
    ASSERT_TRUE(blocks.ok()) << blocks.status();
    for (ServedBlock& b : *blocks) {
      by_map[b.origin.map][b.origin.attempt].push_back(std::move(b));
    }
  }
  for (auto& [map, attempts] : by_map) {
    ASSERT_EQ(attempts.size(), 1u) << "map " << map << " served from several attempts";
    auto& [attempt, blocks] = *attempts.begin();
    ASSERT_TRUE(observed->intents.count({map, attempt}))
        << "map " << map << " attempt " << attempt << " served but never committed";
    auto earlier = observed->served_winner.find(map);
    if (earlier != observed->served_winner.end()) {
      ASSERT_EQ(earlier->second, attempt) << "map " << map << " changed its served attempt";
    }
    observed->served_winner[map] = attempt;
    // Complete and exact: the served blocks are the plan, each byte-exact, none twice.
    std::vector<PlannedBlock> plan = Plan(map, attempt);
    if (blocks.size() != plan.size()) {
      std::set<uint32_t> got;
      for (const ServedBlock& b : blocks) {
        got.insert(b.origin.seq);
      }
      std::string missing;
      for (const PlannedBlock& want : plan) {
        if (!got.count(want.seq)) {
          missing += " seq " + std::to_string(want.seq) + " (partition " +
                     std::to_string(want.partition) + ", " + std::to_string(want.size) + " bytes)";
        }
      }
      engine->reset();
      DumpIndex(dir, map);
      FAIL() << "map " << map << " attempt " << attempt << " served " << blocks.size() << " of "
             << plan.size() << " blocks; missing:" << missing
             << (observed->acked_winner.count(map) ? " (acknowledged)" : " (not acknowledged)");
    }
    std::set<uint32_t> seqs;
    for (const ServedBlock& b : blocks) {
      ASSERT_LT(b.origin.seq, plan.size());
      ASSERT_TRUE(seqs.insert(b.origin.seq).second) << "duplicate block";
      const PlannedBlock& want = plan[b.origin.seq];
      ASSERT_EQ(b.origin.partition, want.partition);
      ASSERT_EQ(b.bytes, testing::MakeBlock(ShuffleOf(map / 1000), map, attempt, want.partition,
                                            want.seq, want.size))
          << "map " << map << " block " << b.origin.seq << " differs";
      ASSERT_TRUE(core::VerifyBlock(b.bytes).ok());
    }
  }
  for (const auto& [map, winner] : observed->acked_winner) {
    if (ShuffleOf(map / 1000) + 2 <= ShuffleOf(iteration)) {
      continue;  // its shuffle was removed on purpose
    }
    if (Plan(map, winner).empty()) {
      continue;  // an acknowledged commit of an empty output: nothing to serve
    }
    auto served = observed->served_winner.find(map);
    ASSERT_TRUE(served != observed->served_winner.end())
        << "acknowledged commit of map " << map << " lost";
    ASSERT_EQ(served->second, winner) << "map " << map;
  }
  // Keep the disk bounded: drop the shuffle two generations back (removal is also under test).
  if (ShuffleOf(iteration) >= 2) {
    (void)(*engine)->RemoveShuffle({kApp, ShuffleId(ShuffleOf(iteration) - 2)});
  }
}

TEST(StorageCrashTest, AcknowledgedCommitsSurviveSigkillAtRandomInstants) {
  const char* env_iterations = std::getenv("SHUFFLE_CRASH_ITERATIONS");
  const char* env_seed = std::getenv("SHUFFLE_CRASH_SEED");
  const uint32_t iterations = env_iterations ? std::atoi(env_iterations) : 50;
  const uint32_t seed = env_seed ? std::atoi(env_seed) : 20261123;
  std::printf("crash test: %u iterations, seed %u\n", iterations, seed);
  core::SetLogLevel(core::LogLevel::kWarning);
  testsupport::TempDir dir;
  std::mt19937 rng(seed);
  Observed observed;
  uint32_t killed_mid_work = 0;
  for (uint32_t iteration = 0; iteration < iterations; ++iteration) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(dir.path(), iteration, fds[1]);
    }
    close(fds[1]);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(rng() % 4 == 0 ? rng() % 600 : 20 + rng() % 160));
    kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
      text.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited by itself (status " << wstatus << ")";
    const size_t acked_before = observed.acked_winner.size();
    ParseRecords(text, &observed);
    ASSERT_TRUE(observed.errors.empty()) << "child reported: " << observed.errors.front();
    // Killed while committing: some map of this iteration had an intent but no ack.
    for (const auto& [map, attempt] : observed.intents) {
      if (map / 1000 == iteration && !observed.acked_winner.count(map)) {
        ++killed_mid_work;
        break;
      }
    }
    (void)acked_before;
    Verify(dir.path(), iteration, &observed);
    if (::testing::Test::HasFatalFailure()) {
      std::printf("failed at iteration %u (seed %u)\n", iteration, seed);
      return;
    }
  }
  std::printf(
      "crash test: %u kills, %zu acknowledged commits verified, %zu maps served, "
      "%u kills landed between a commit's call and its acknowledgement\n",
      iterations, observed.acked_winner.size(), observed.served_winner.size(), killed_mid_work);
  EXPECT_GT(observed.acked_winner.size(), 0u);
}

}  // namespace
}  // namespace shuffle::storage
