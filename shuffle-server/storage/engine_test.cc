#include "shuffle-server/storage/engine.h"

#include <atomic>
#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle-server/storage/index.h"

namespace shuffle::storage {
namespace {

using core::AppId;
using core::AttemptId;
using core::MapId;
using core::PartitionId;
using core::ShuffleId;
using testing::MakeBlock;
using testing::SmallOptions;
using testing::TempDir;

const ShuffleKey kShuffle{AppId("app-1"), ShuffleId(7)};
constexpr uint32_t kPartitions = 4;

// Pushes `blocks_per_partition` blocks of `size` bytes to every partition and commits.
absl::StatusOr<CommitResult> WriteMap(StorageEngine& engine, const ShuffleKey& key, uint32_t map,
                                      uint32_t attempt, uint32_t partitions,
                                      uint32_t blocks_per_partition, size_t size) {
  std::vector<std::string> storage;
  std::vector<PushedBlock> blocks;
  uint32_t seq = 0;
  uint64_t bytes = 0;
  for (uint32_t p = 0; p < partitions; ++p) {
    for (uint32_t b = 0; b < blocks_per_partition; ++b) {
      storage.push_back(MakeBlock(key.shuffle.value(), map, attempt, p, seq++, size));
      bytes += storage.back().size();
    }
  }
  size_t i = 0;
  for (uint32_t p = 0; p < partitions; ++p) {
    for (uint32_t b = 0; b < blocks_per_partition; ++b) {
      blocks.push_back({PartitionId(p), storage[i++]});
    }
  }
  absl::Status pushed = engine.Push(key, MapId(map), AttemptId(attempt), blocks);
  if (!pushed.ok()) {
    return pushed;
  }
  return engine.Commit(key, CommitRequest{.map = MapId(map),
                                          .attempt = AttemptId(attempt),
                                          .num_partitions = partitions,
                                          .expected_blocks = blocks.size(),
                                          .expected_bytes = bytes});
}

// Reads partition `p` and checks every block against its deterministic contents. Returns the
// served blocks per (map, attempt).
std::map<std::pair<uint32_t, uint32_t>, int> ReadAndVerify(StorageEngine& engine,
                                                           const ShuffleKey& key, uint32_t p,
                                                           size_t size, uint32_t map_begin = 0,
                                                           uint32_t map_end = UINT32_MAX) {
  std::map<std::pair<uint32_t, uint32_t>, int> seen;
  auto blocks = engine.Read(key, ReadRequest{.partition_begin = PartitionId(p),
                                             .partition_end = PartitionId(p + 1),
                                             .map_begin = MapId(map_begin),
                                             .map_end = MapId(map_end)});
  EXPECT_TRUE(blocks.ok()) << blocks.status();
  if (!blocks.ok()) {
    return seen;
  }
  for (const ServedBlock& b : *blocks) {
    EXPECT_EQ(b.origin.partition, p);
    EXPECT_EQ(b.bytes, MakeBlock(key.shuffle.value(), b.origin.map, b.origin.attempt, p,
                                 b.origin.seq, size));
    ++seen[{b.origin.map, b.origin.attempt}];
  }
  return seen;
}

class EngineTest : public ::testing::Test {
 protected:
  void Open() {
    engine_.reset();
    auto engine = StorageEngine::Open(SmallOptions(dir_.path()));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }
  void SetUp() override {
    Open();
    ASSERT_TRUE(engine_->RegisterShuffle(kShuffle, "ns", kPartitions).ok());
  }
  TempDir dir_;
  std::unique_ptr<StorageEngine> engine_;
};

TEST_F(EngineTest, CommittedSmallAndLargeBlocksReadBackExactly) {
  ASSERT_TRUE(WriteMap(*engine_, kShuffle, 0, 0, kPartitions, 5, 1000).ok());
  ASSERT_TRUE(WriteMap(*engine_, kShuffle, 1, 0, kPartitions, 2, 100 << 10).ok());  // direct
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto small = ReadAndVerify(*engine_, kShuffle, p, 1000, 0, 1);
    EXPECT_EQ(small.size(), 1u);
    EXPECT_EQ(small[std::make_pair(0u, 0u)], 5);
    auto large = ReadAndVerify(*engine_, kShuffle, p, 100 << 10, 1, 2);
    EXPECT_EQ(large.size(), 1u);
    EXPECT_EQ(large[std::make_pair(1u, 0u)], 2);
  }
  auto large = engine_->Read(
      kShuffle, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->size(), kPartitions * 7);
}

// A push frame's payload handed to the engine: its large blocks are kept as views into it (no
// copy) until they are durable, its small blocks are copied (they must not pin the frame), and
// both read back exactly.
TEST_F(EngineTest, LargeBlocksOfASharedPayloadAreHeldWithoutACopyUntilDurable) {
  const std::string large = MakeBlock(7, 4, 0, 0, 0, 100 << 10);  // direct: >= 64 KiB here
  const std::string small = MakeBlock(7, 4, 0, 1, 1, 1000);
  auto payload = std::make_shared<const std::string>(large + small);
  const std::string_view view = *payload;
  ASSERT_TRUE(engine_
                  ->Push(kShuffle, MapId(4), AttemptId(0),
                         {{PartitionId(0), view.substr(0, large.size())},
                          {PartitionId(1), view.substr(large.size())}},
                         payload)
                  .ok());
  EXPECT_EQ(payload.use_count(), 2);  // the large block's share; the small one was copied
  auto committed = engine_->Commit(kShuffle, CommitRequest{.map = MapId(4),
                                                           .attempt = AttemptId(0),
                                                           .num_partitions = kPartitions,
                                                           .expected_blocks = 2,
                                                           .expected_bytes = payload->size()});
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(payload.use_count(), 1);  // durable in its extent: the share is given back
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 0, 100 << 10)[std::make_pair(4u, 0u)], 1);
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 1, 1000)[std::make_pair(4u, 0u)], 1);
}

TEST_F(EngineTest, CommitReportsPerPartitionTotals) {
  auto result = WriteMap(*engine_, kShuffle, 3, 1, kPartitions, 2, 500);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->won);
  EXPECT_EQ(result->winner.attempt, 1u);
  ASSERT_EQ(result->winner.partitions.size(), kPartitions);
  for (const PartitionTotal& t : result->winner.partitions) {
    EXPECT_EQ(t.blocks, 2u);
    EXPECT_EQ(t.bytes, 2 * (500 + core::kBlockHeaderSize));
  }
}

TEST_F(EngineTest, UncommittedAttemptIsNeverServed) {
  std::string block = MakeBlock(7, 9, 0, 0, 0, 100);
  ASSERT_TRUE(engine_->Push(kShuffle, MapId(9), AttemptId(0), {{PartitionId(0), block}}).ok());
  ASSERT_TRUE(WriteMap(*engine_, kShuffle, 1, 0, kPartitions, 1, 100).ok());
  auto seen = ReadAndVerify(*engine_, kShuffle, 0, 100);
  EXPECT_EQ(seen.count({9, 0}), 0u);
  EXPECT_EQ(seen[std::make_pair(1u, 0u)], 1);
  Open();  // and after a restart
  seen = ReadAndVerify(*engine_, kShuffle, 0, 100);
  EXPECT_EQ(seen.count({9, 0}), 0u);
  EXPECT_EQ(seen[std::make_pair(1u, 0u)], 1);
}

TEST_F(EngineTest, SpeculativeAttemptsExactlyOneServed) {
  constexpr int kAttempts = 4;
  std::vector<std::thread> threads;
  threads.reserve(kAttempts);
  std::vector<absl::StatusOr<CommitResult>> results(kAttempts, absl::UnknownError(""));
  for (int a = 0; a < kAttempts; ++a) {
    threads.emplace_back([&, a] {
      results[a] = WriteMap(*engine_, kShuffle, 5, static_cast<uint32_t>(a), kPartitions, 3, 2000);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  int winners = 0;
  uint32_t winner_attempt = UINT32_MAX;
  for (int a = 0; a < kAttempts; ++a) {
    if (!results[a].ok()) {
      // A loser may be refused at push time because the winner already committed.
      EXPECT_EQ(results[a].status().code(), absl::StatusCode::kAlreadyExists)
          << results[a].status();
      continue;
    }
    if (results[a]->won) {
      ++winners;
      winner_attempt = static_cast<uint32_t>(a);
    }
  }
  ASSERT_EQ(winners, 1);
  for (int a = 0; a < kAttempts; ++a) {
    if (results[a].ok()) {
      EXPECT_EQ(results[a]->winner.attempt, winner_attempt);
    }
  }
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto seen = ReadAndVerify(*engine_, kShuffle, p, 2000);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen.begin()->first, std::make_pair(5u, winner_attempt));
    EXPECT_EQ(seen.begin()->second, 3);
  }
  // A late push or commit of another attempt learns who won.
  std::string block = MakeBlock(7, 5, 99, 0, 0, 10);
  EXPECT_EQ(engine_->Push(kShuffle, MapId(5), AttemptId(99), {{PartitionId(0), block}}).code(),
            absl::StatusCode::kAlreadyExists);
  auto late = engine_->Commit(
      kShuffle, {.map = MapId(5), .attempt = AttemptId(99), .num_partitions = kPartitions});
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->won);
  EXPECT_EQ(late->winner.attempt, winner_attempt);
  // Re-committing the winner is idempotent.
  auto again = engine_->Commit(
      kShuffle,
      {.map = MapId(5), .attempt = AttemptId(winner_attempt), .num_partitions = kPartitions});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->won);
}

TEST_F(EngineTest, ConcurrentCommitsShareRounds) {
  constexpr int kThreads = 8;
  constexpr int kMapsPerThread = 10;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int m = 0; m < kMapsPerThread; ++m) {
        if (!WriteMap(*engine_, kShuffle, static_cast<uint32_t>(t * 100 + m), 0, kPartitions, 1,
                      300)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EngineStats stats = engine_->stats();
  EXPECT_EQ(stats.commits, kThreads * kMapsPerThread);
  EXPECT_LT(stats.commit_rounds, stats.commits) << "no commits shared a round";
  auto all = engine_->Read(
      kShuffle, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), size_t{kThreads * kMapsPerThread * kPartitions});
}

TEST_F(EngineTest, CommitWithMissingPushesIsAborted) {
  std::string block = MakeBlock(7, 2, 0, 0, 0, 100);
  ASSERT_TRUE(engine_->Push(kShuffle, MapId(2), AttemptId(0), {{PartitionId(0), block}}).ok());
  auto result = engine_->Commit(kShuffle, {.map = MapId(2),
                                           .attempt = AttemptId(0),
                                           .num_partitions = kPartitions,
                                           .expected_blocks = 2,
                                           .expected_bytes = 2 * block.size()});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(result.status().message().find("rerun the map"), std::string::npos);
  // Pushes then a restart: the new run cannot commit the old run's blocks.
  std::string b2 = MakeBlock(7, 3, 0, 0, 0, 100);
  ASSERT_TRUE(engine_->Push(kShuffle, MapId(3), AttemptId(0), {{PartitionId(0), b2}}).ok());
  Open();
  auto after = engine_->Commit(kShuffle, {.map = MapId(3),
                                          .attempt = AttemptId(0),
                                          .num_partitions = kPartitions,
                                          .expected_blocks = 1,
                                          .expected_bytes = b2.size()});
  EXPECT_EQ(after.status().code(), absl::StatusCode::kAborted);
}

TEST_F(EngineTest, InvalidRequestsAreRefusedClearly) {
  std::string bad = MakeBlock(7, 1, 0, 0, 0, 100);
  bad[40] ^= 1;
  absl::Status st = engine_->Push(kShuffle, MapId(1), AttemptId(0), {{PartitionId(0), bad}});
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("map 1 attempt 0 partition 0"), std::string::npos) << st;
  std::string good = MakeBlock(7, 1, 0, 0, 0, 100);
  EXPECT_EQ(
      engine_->Push(kShuffle, MapId(1), AttemptId(0), {{PartitionId(kPartitions), good}}).code(),
      absl::StatusCode::kInvalidArgument);
  ShuffleKey unknown{AppId("other"), ShuffleId(1)};
  EXPECT_EQ(engine_->Push(unknown, MapId(1), AttemptId(0), {{PartitionId(0), good}}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->RegisterShuffle(kShuffle, "ns", kPartitions + 1).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(engine_->RegisterShuffle(kShuffle, "ns", kPartitions).ok());
  EXPECT_EQ(
      engine_->Read(kShuffle, {.partition_begin = PartitionId(2), .partition_end = PartitionId(9)})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, RestartRecoversEverythingCommitted) {
  for (uint32_t m = 0; m < 20; ++m) {
    ASSERT_TRUE(WriteMap(*engine_, kShuffle, m, 1, kPartitions, 3, 700).ok());
  }
  const uint32_t first_epoch = engine_->epoch();
  Open();
  EXPECT_EQ(engine_->epoch(), first_epoch + 1);
  EXPECT_EQ(engine_->recovery_report().commits, 20u);
  EXPECT_GT(engine_->recovery_report().log_blocks_replayed, 0u);  // small blocks were in the log
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto seen = ReadAndVerify(*engine_, kShuffle, p, 700);
    EXPECT_EQ(seen.size(), 20u);
    for (const auto& [who, count] : seen) {
      EXPECT_EQ(count, 3);
    }
  }
  // After the read flushed the replayed blocks into extents, a restart has no log to replay.
  Open();
  EXPECT_EQ(engine_->recovery_report().log_blocks_replayed, 0u);
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 0, 700).size(), 20u);
}

// Executors register a shuffle lazily, several at once: one key must get one record, or a
// restart may publish an empty duplicate and hide every committed output of the shuffle.
TEST_F(EngineTest, ConcurrentRegistrationsOfOneShuffleSurviveARestart) {
  constexpr uint32_t kKeys = 20;
  for (uint32_t k = 0; k < kKeys; ++k) {
    const ShuffleKey key{AppId("app-2"), ShuffleId(k)};
    std::vector<std::thread> registrars;
    registrars.reserve(4);
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
      registrars.emplace_back([&] { ok += engine_->RegisterShuffle(key, "ns", 2).ok() ? 1 : 0; });
    }
    for (std::thread& t : registrars) {
      t.join();
    }
    ASSERT_EQ(ok.load(), 4) << "every registration of a known shape succeeds";
    ASSERT_TRUE(WriteMap(*engine_, key, 0, 1, 2, 2, 700).ok());
  }
  Open();
  EXPECT_EQ(engine_->recovery_report().shuffles, kKeys + 1);
  EXPECT_EQ(engine_->recovery_report().duplicate_registrations_dropped, 0u);
  for (uint32_t k = 0; k < kKeys; ++k) {
    EXPECT_EQ(ReadAndVerify(*engine_, ShuffleKey{AppId("app-2"), ShuffleId(k)}, 1, 700).size(), 1u)
        << "shuffle " << k;
  }
}

// An index written before registrations were serialised can hold an unused second record of a
// key: recovery keeps the one with the commits and deletes the other.
TEST_F(EngineTest, RecoveryDropsAnUnusedDuplicateRegistration) {
  ASSERT_TRUE(WriteMap(*engine_, kShuffle, 0, 1, kPartitions, 2, 700).ok());
  engine_.reset();
  {
    auto index = Index::Open(dir_.path() + "/d0/index", IndexOptions{});
    ASSERT_TRUE(index.ok()) << index.status();
    Index::Batch batch;
    batch.PutShuffle(ShuffleRecord{.handle = 1000,
                                   .app_id = "app-1",
                                   .namespace_name = "ns",
                                   .shuffle_id = kShuffle.shuffle.value(),
                                   .num_partitions = kPartitions});
    batch.PutNextHandle(1001);
    ASSERT_TRUE((*index)->Write(batch, /*sync=*/true).ok());
  }
  Open();
  EXPECT_EQ(engine_->recovery_report().duplicate_registrations_dropped, 1u);
  EXPECT_EQ(engine_->recovery_report().commits, 1u);
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 0, 700).size(), 1u);
  Open();
  EXPECT_EQ(engine_->recovery_report().duplicate_registrations_dropped, 0u);
  EXPECT_EQ(engine_->recovery_report().shuffles, 1u);
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 0, 700).size(), 1u);
}

TEST_F(EngineTest, FirstReadAfterRestartFlushesOnlyItsPartition) {
  for (uint32_t m = 0; m < 20; ++m) {
    ASSERT_TRUE(WriteMap(*engine_, kShuffle, m, 1, kPartitions, 3, 700).ok());
  }
  Open();
  ASSERT_GT(engine_->recovery_report().log_blocks_replayed, 0u);
  const EngineStats start = engine_->stats();
  // Every replayed block is held (20 maps x 3 blocks per partition, each the same size).
  ASSERT_GT(start.memory_bytes, uint64_t{20} * kPartitions * 3 * 700);
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 2, 700).size(), 20u);
  const EngineStats after_one = engine_->stats();
  // Partition 2's buffer became one extent; the other partitions' blocks wait in memory.
  EXPECT_EQ(after_one.extents_written - start.extents_written, 1u);
  EXPECT_EQ(after_one.memory_bytes, start.memory_bytes / kPartitions * (kPartitions - 1));
  for (uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, p, 700).size(), 20u);
  }
  EXPECT_EQ(engine_->stats().extents_written - start.extents_written, uint64_t{kPartitions});
  EXPECT_EQ(engine_->stats().memory_bytes, 0u);
}

TEST_F(EngineTest, GarbageTailIsTruncatedOnRecovery) {
  ASSERT_TRUE(WriteMap(*engine_, kShuffle, 0, 0, kPartitions, 2, 100 << 10).ok());
  engine_.reset();
  const std::string segment = dir_.path() + "/d0/shuffles/1/data.seg";
  ASSERT_TRUE(std::filesystem::exists(segment));
  const auto size = std::filesystem::file_size(segment);
  std::filesystem::resize_file(segment, size + 12345);
  Open();
  EXPECT_EQ(engine_->recovery_report().bytes_truncated, 12345u);
  EXPECT_EQ(std::filesystem::file_size(segment), size);
  EXPECT_EQ(ReadAndVerify(*engine_, kShuffle, 0, 100 << 10).size(), 1u);
}

TEST_F(EngineTest, ManySmallMapsAreReadInFewLargeReads) {
  // 2,000 maps each write one 4 KiB block to partition 0 and one to partition 1; with one data
  // directory the two partitions' extents interleave in the segment file.
  EngineOptions options = SmallOptions(dir_.path());
  options.data_dirs = {dir_.path() + "/single"};
  options.extent_bytes = 1 << 20;
  options.direct_block_bytes = 1 << 20;
  options.memory_budget_bytes = 64 << 20;
  engine_.reset();
  auto engine = StorageEngine::Open(options);
  ASSERT_TRUE(engine.ok());
  engine_ = std::move(*engine);
  const ShuffleKey key{AppId("app-1"), ShuffleId(8)};
  ASSERT_TRUE(engine_->RegisterShuffle(key, "ns", 2).ok());
  constexpr uint32_t kMaps = 2000;
  constexpr size_t kPayload = 4096 - core::kBlockHeaderSize;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t m = t; m < kMaps; m += 4) {
        if (!WriteMap(*engine_, key, m, 0, 2, 1, kPayload).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  const uint64_t reads_before = engine_->stats().disk_reads;
  auto blocks =
      engine_->Read(key, {.partition_begin = PartitionId(0), .partition_end = PartitionId(1)});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  ASSERT_EQ(blocks->size(), kMaps);
  uint64_t bytes = 0;
  for (const ServedBlock& b : *blocks) {
    bytes += b.bytes.size();
  }
  const uint64_t reads = engine_->stats().disk_reads - reads_before;
  const uint64_t ideal = (bytes + (1 << 20) - 1) >> 20;
  RecordProperty("disk_reads", static_cast<int>(reads));
  RecordProperty("ideal_reads", static_cast<int>(ideal));
  std::printf("partition of %u maps, %llu bytes: %llu disk reads (bytes / 1 MiB = %llu)\n", kMaps,
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(reads),
              static_cast<unsigned long long>(ideal));
  const EngineStats stats = engine_->stats();
  std::printf("write amplification: %.2f (%llu bytes written for %llu pushed; %llu to the log)\n",
              static_cast<double>(stats.bytes_written) / static_cast<double>(stats.bytes_pushed),
              static_cast<unsigned long long>(stats.bytes_written),
              static_cast<unsigned long long>(stats.bytes_pushed),
              static_cast<unsigned long long>(stats.log_bytes_written));
  EXPECT_LE(reads, ideal + 2);
  EXPECT_GE(reads, ideal / 2) << "extents of the two partitions should not coalesce";
}

TEST_F(EngineTest, RemoveShuffleFreesFilesAndIndex) {
  ASSERT_TRUE(WriteMap(*engine_, kShuffle, 0, 0, kPartitions, 2, 100 << 10).ok());
  const ShuffleKey other{AppId("app-2"), ShuffleId(7)};
  ASSERT_TRUE(engine_->RegisterShuffle(other, "ns2", 2).ok());
  ASSERT_TRUE(WriteMap(*engine_, other, 0, 0, 2, 1, 500).ok());
  auto usage = engine_->Usage();
  ASSERT_EQ(usage.size(), 2u);
  auto freed = engine_->RemoveApplication(AppId("app-1"));
  ASSERT_TRUE(freed.ok());
  EXPECT_GE(*freed, 8u * (100 << 10));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/d0/shuffles/1"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/d1/shuffles/1"));
  EXPECT_EQ(
      engine_->Read(kShuffle, {.partition_begin = PartitionId(0), .partition_end = PartitionId(1)})
          .status()
          .code(),
      absl::StatusCode::kNotFound);
  Open();
  EXPECT_EQ(engine_->recovery_report().shuffles, 1u);
  EXPECT_EQ(engine_->Usage()[0].record.app_id, "app-2");
  EXPECT_EQ(ReadAndVerify(*engine_, other, 1, 500).size(), 1u);
}

}  // namespace
}  // namespace shuffle::storage
