#include "tests/crash/crash_workload.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine_test_util.h"

namespace shuffle::storage::crash {
namespace {

using core::AppId;
using core::AttemptId;
using core::MapId;
using core::PartitionId;
using core::ShuffleId;

constexpr uint32_t kThreads = 3;
constexpr uint32_t kMapsPerThread = 30;
constexpr size_t kMaxRetries = 12;

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

// Prints what the index says about one map: its commit, and every extent or log entry of it.
void DumpIndex(const std::string& index_dir, uint32_t map) {
  auto index = Index::Open(index_dir);
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

// Checks the blocks served for one map: one attempt, one that called Commit, the same attempt
// as before, and all of its planned blocks byte-exact.
void CheckServedMap(uint32_t map, std::map<uint32_t, std::vector<ServedBlock>>& attempts,
                    Observed* observed, const std::function<void()>& dump) {
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
    dump();
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

// One map as the workload runs it; `k` (its index in its thread) chooses the pattern.
void RunMap(StorageEngine& engine, const ShuffleKey& key, uint32_t map, int fd) {
  const uint32_t k = map % 100;
  uint64_t blocks0 = 0;
  uint64_t bytes0 = 0;
  uint64_t blocks1 = 0;
  uint64_t bytes1 = 0;
  if (k % 3 == 1) {  // speculative pair: attempt 1 commits first, attempt 0 loses
    if (PushAttempt(engine, key, map, 0, &blocks0, &bytes0) &&
        PushAttempt(engine, key, map, 1, &blocks1, &bytes1)) {
      CommitAttempt(engine, key, map, 1, blocks1, bytes1, fd);
      CommitAttempt(engine, key, map, 0, blocks0, bytes0, fd);
    }
  } else if (k % 3 == 2) {  // abandoned attempt 2, then attempt 3 commits
    (void)PushAttempt(engine, key, map, 2, &blocks0, &bytes0);
    if (PushAttempt(engine, key, map, 3, &blocks1, &bytes1)) {
      CommitAttempt(engine, key, map, 3, blocks1, bytes1, fd);
    }
  } else if (PushAttempt(engine, key, map, 0, &blocks0, &bytes0)) {
    CommitAttempt(engine, key, map, 0, blocks0, bytes0, fd);
  }
}

}  // namespace

std::vector<uint32_t> MapsToRetry(uint32_t iteration, const Observed& observed) {
  std::vector<uint32_t> maps;
  if (iteration == 0 || ShuffleOf(iteration - 1) != ShuffleOf(iteration)) {
    return maps;
  }
  for (uint32_t t = 0; t < kThreads && maps.size() < kMaxRetries; ++t) {
    for (uint32_t k = 0; k < kMapsPerThread && maps.size() < kMaxRetries; ++k) {
      const uint32_t map = (iteration - 1) * 1000 + t * 100 + k;
      if (!observed.acked_winner.count(map)) {
        maps.push_back(map);
      }
    }
  }
  return maps;
}

ShuffleKey KeyOf(uint32_t shuffle) { return ShuffleKey{AppId("crash-app"), ShuffleId(shuffle)}; }

void Report(int fd, const std::string& line) {
  // One write per record: atomic on a pipe (records are far below PIPE_BUF).
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
}

void RunWorkload(StorageEngine& engine, uint32_t iteration, const std::vector<uint32_t>& retry,
                 int fd) {
  const RecoveryReport& report = engine.recovery_report();
  if (report.corrupt_log_blocks > 0) {
    Report(fd, "E child recovery found " + std::to_string(report.corrupt_log_blocks) +
                   " corrupt log blocks\n");
  }
  const ShuffleKey key = KeyOf(ShuffleOf(iteration));
  if (absl::Status st = engine.RegisterShuffle(key, "ns", kPartitions); !st.ok()) {
    Report(fd, "E register " + std::string(st.message()) + "\n");
    return;
  }
  Report(fd, "R " + std::to_string(key.shuffle.value()) + "\n");
  for (uint32_t map : retry) {
    RunMap(engine, key, map, fd);
  }
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t k = 0; k < kMapsPerThread; ++k) {
        RunMap(engine, key, iteration * 1000 + t * 100 + k, fd);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // Reads and seals while waiting for the crash.
  (void)engine.Read(key,
                    {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  if (engine.Seal(key).ok()) {
    Report(fd, "S " + std::to_string(key.shuffle.value()) + "\n");
  }
}

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
    } else if (kind == "R") {
      uint32_t shuffle = 0;
      fields >> shuffle;
      observed->registered.insert(shuffle);
    } else if (kind == "S") {
      uint32_t shuffle = 0;
      fields >> shuffle;
      observed->sealed.insert(shuffle);
    } else if (kind == "C") {
      observed->crashes.push_back(line.substr(2));
    } else if (!line.empty()) {
      observed->errors.push_back(line);
    }
  }
}

std::string ReadPipe(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

bool CrashedMidCommit(const Observed& observed, uint32_t iteration) {
  for (const auto& [map, attempt] : observed.intents) {
    if (map / 1000 == iteration && !observed.acked_winner.count(map)) {
      return true;
    }
  }
  return false;
}

void Verify(const EngineOptions& options, uint32_t iteration, Observed* observed,
            std::unique_ptr<StorageEngine>* engine_out) {
  auto engine = StorageEngine::Open(options);
  ASSERT_TRUE(engine.ok()) << "recovery failed: " << engine.status();
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
    auto blocks = (*engine)->Read(
        KeyOf(s), {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
    if (absl::IsNotFound(blocks.status())) {
      continue;  // removed, or the child crashed before registering it
    }
    ASSERT_TRUE(blocks.ok()) << blocks.status();
    for (ServedBlock& b : *blocks) {
      by_map[b.origin.map][b.origin.attempt].push_back(std::move(b));
    }
  }
  const std::string index_dir =
      options.index_dir.empty() ? options.data_dirs[0] + "/index" : options.index_dir;
  for (auto& [map, attempts] : by_map) {
    CheckServedMap(map, attempts, observed, [&, map = map] {
      engine->reset();
      DumpIndex(index_dir, map);
    });
    if (::testing::Test::HasFatalFailure()) {
      return;
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
  // A registration that returned OK stays (unless the shuffle was removed on purpose); a seal
  // that returned OK stays sealed.
  std::set<uint32_t> present;
  for (const ShuffleUsage& usage : (*engine)->Usage()) {
    present.insert(usage.record.shuffle_id);
    if (observed->sealed.count(usage.record.shuffle_id)) {
      ASSERT_TRUE(usage.record.sealed) << "shuffle " << usage.record.shuffle_id << " lost its seal";
    }
  }
  for (uint32_t shuffle : observed->registered) {
    if (shuffle + 2 > ShuffleOf(iteration)) {
      ASSERT_TRUE(present.count(shuffle)) << "registered shuffle " << shuffle << " lost";
    }
  }
  if (engine_out != nullptr) {
    *engine_out = std::move(engine).value();
  }
}

uint32_t IterationsFromEnv(uint32_t fallback) {
  const char* value = std::getenv("SHUFFLE_CRASH_ITERATIONS");
  return value != nullptr ? static_cast<uint32_t>(std::atoi(value)) : fallback;
}

uint32_t SeedFromEnv(uint32_t fallback) {
  const char* value = std::getenv("SHUFFLE_CRASH_SEED");
  return value != nullptr ? static_cast<uint32_t>(std::atoi(value)) : fallback;
}

}  // namespace shuffle::storage::crash
