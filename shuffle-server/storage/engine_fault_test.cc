// The storage engine under injected faults (FaultInjectionEnv): ENOSPC and EIO on writes and
// syncs, short writes, low disk, and a crash at a chosen operation. Each test checks that the
// caller gets a clear error, that other shuffles keep working, and that committed data is intact.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <sys/wait.h>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle-server/storage/fault_injection_env.h"

namespace shuffle::storage {
namespace {

using core::AppId;
using core::AttemptId;
using core::MapId;
using core::PartitionId;
using core::ShuffleId;
using testing::MakeBlock;
using testing::TempDir;

constexpr uint32_t kPartitions = 2;
const ShuffleKey kA{AppId("app-a"), ShuffleId(1)};  // handle 1: its log is in d1
const ShuffleKey kB{AppId("app-b"), ShuffleId(1)};  // handle 2: its log is in d0

absl::StatusOr<CommitResult> WriteMap(StorageEngine& engine, const ShuffleKey& key, uint32_t map,
                                      uint32_t attempt, size_t size) {
  std::vector<std::string> storage;
  uint64_t bytes = 0;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    storage.push_back(MakeBlock(key.shuffle.value(), map, attempt, p, p, size));
    bytes += storage.back().size();
  }
  std::vector<PushedBlock> blocks;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    blocks.push_back({PartitionId(p), storage[p]});
  }
  if (absl::Status st = engine.Push(key, MapId(map), AttemptId(attempt), blocks); !st.ok()) {
    return st;
  }
  return engine.Commit(key, {.map = MapId(map),
                             .attempt = AttemptId(attempt),
                             .num_partitions = kPartitions,
                             .expected_blocks = kPartitions,
                             .expected_bytes = bytes});
}

// Served (map, attempt) pairs of the whole shuffle, each block checked byte for byte.
absl::StatusOr<std::set<std::pair<uint32_t, uint32_t>>> ReadAll(StorageEngine& engine,
                                                                const ShuffleKey& key,
                                                                size_t size) {
  auto blocks = engine.Read(
      key, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  if (!blocks.ok()) {
    return blocks.status();
  }
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (const ServedBlock& b : *blocks) {
    if (b.bytes != MakeBlock(key.shuffle.value(), b.origin.map, b.origin.attempt,
                             b.origin.partition, b.origin.partition, size)) {
      return absl::DataLossError("served block differs from what was written");
    }
    seen.insert({b.origin.map, b.origin.attempt});
  }
  return seen;
}

class EngineFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    auto engine = StorageEngine::Open(testing::SmallOptions(dir_.path(), &env_));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    ASSERT_TRUE(engine_->RegisterShuffle(kA, "ns-a", kPartitions).ok());
    ASSERT_TRUE(engine_->RegisterShuffle(kB, "ns-b", kPartitions).ok());
  }
  TempDir dir_;
  FaultInjectionEnv env_{Env::Default()};
  std::unique_ptr<StorageEngine> engine_;
};

TEST_F(EngineFaultTest, EnospcOnCommitLogAbortsOnlyThatAttempt) {
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 500).ok());  // committed before the fault
  env_.AddFault({.kind = IoKind::kWrite, .path_contains = "/shuffles/1/commit-", .error = ENOSPC});
  auto failed = WriteMap(*engine_, kA, 1, 0, 500);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kResourceExhausted) << failed.status();
  EXPECT_NE(failed.status().message().find("No space left on device"), std::string::npos);
  EXPECT_NE(failed.status().message().find("commit-"), std::string::npos) << failed.status();
  EXPECT_EQ(env_.fired(), 1);
  // The other shuffle is unaffected; the failed attempt stays failed; a new attempt succeeds.
  ASSERT_TRUE(WriteMap(*engine_, kB, 0, 0, 500).ok());
  std::string block = MakeBlock(1, 1, 0, 0, 0, 500);
  EXPECT_EQ(engine_->Push(kA, MapId(1), AttemptId(0), {{PartitionId(0), block}}).code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(WriteMap(*engine_, kA, 1, 1, 500).ok());
  auto served = ReadAll(*engine_, kA, 500);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}, {1, 1}}));
  Open();  // and after a restart
  served = ReadAll(*engine_, kA, 500);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}, {1, 1}}));
}

TEST_F(EngineFaultTest, EioOnLargeBlockWriteAbortsOnlyThatAttempt) {
  env_.AddFault({.kind = IoKind::kWrite, .path_contains = "/shuffles/1/data.seg", .error = EIO});
  auto failed = WriteMap(*engine_, kA, 0, 0, 100 << 10);  // direct blocks
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss) << failed.status();
  EXPECT_NE(failed.status().message().find("Input/output error"), std::string::npos);
  ASSERT_TRUE(WriteMap(*engine_, kB, 0, 0, 100 << 10).ok());
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 1, 100 << 10).ok());
  auto served = ReadAll(*engine_, kA, 100 << 10);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 1}}));
}

TEST_F(EngineFaultTest, FailedSyncFailsTheCommit) {
  env_.AddFault({.kind = IoKind::kSync, .path_contains = "/shuffles/1/commit-", .error = EIO});
  auto failed = WriteMap(*engine_, kA, 0, 0, 500);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("fdatasync"), std::string::npos) << failed.status();
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 1, 500).ok());
  Open();
  auto served = ReadAll(*engine_, kA, 500);
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 1}}));
}

TEST_F(EngineFaultTest, FailedExtentFlushIsRetriedAndCommittedDataSurvives) {
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 500).ok());  // small blocks: in memory and the log
  env_.AddFault(
      {.kind = IoKind::kWrite, .path_contains = "/shuffles/1/data.seg", .count = -1, .error = EIO});
  auto during = ReadAll(*engine_, kA, 500);  // the read's flush fails
  EXPECT_EQ(during.status().code(), absl::StatusCode::kUnavailable) << during.status();
  EXPECT_NE(during.status().message().find("Input/output error"), std::string::npos)
      << during.status();
  ASSERT_TRUE(WriteMap(*engine_, kB, 0, 0, 500).ok());
  EXPECT_TRUE(ReadAll(*engine_, kB, 500).ok());
  env_.ClearFaults();
  auto after = ReadAll(*engine_, kA, 500);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}}));
}

TEST_F(EngineFaultTest, ShortWritesEverywhereStillCommitExactBytes) {
  env_.AddFault({.kind = IoKind::kWrite, .path_contains = "", .count = -1, .short_transfer = true});
  for (uint32_t m = 0; m < 6; ++m) {
    ASSERT_TRUE(WriteMap(*engine_, kA, m, 0, m % 2 ? 100 << 10 : 3000).ok());
  }
  EXPECT_GT(env_.fired(), 6);
  env_.ClearFaults();
  Open();
  auto blocks = engine_->Read(
      kA, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  ASSERT_EQ(blocks->size(), 12u);
  for (const ServedBlock& b : *blocks) {
    EXPECT_EQ(b.bytes, MakeBlock(1, b.origin.map, 0, b.origin.partition, b.origin.partition,
                                 b.origin.map % 2 ? 100 << 10 : 3000));
  }
}

TEST_F(EngineFaultTest, ExtentsAreWrittenIntoPreallocatedSegmentSpace) {
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 100 << 10).ok());  // direct blocks
  ASSERT_TRUE(WriteMap(*engine_, kA, 1, 0, 500).ok());        // small blocks, flushed by the read
  auto blocks = engine_->Read(  // flushes map 1's buffered blocks into extents first
      kA, {.partition_begin = PartitionId(0), .partition_end = PartitionId(kPartitions)});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_EQ(blocks->size(), 2u * kPartitions);
  const EngineStats stats = engine_->stats();
  ASSERT_GT(stats.extents_written, 2u);
  EXPECT_EQ(stats.segment_preallocation_failures, 0u);
  // Every extent byte (padding included) was preallocated before it was written.
  EXPECT_EQ(stats.segment_bytes_preallocated, stats.bytes_written - stats.log_bytes_written);
}

TEST_F(EngineFaultTest, FailedPreallocationOnlyCostsSpeed) {
  env_.AddFault({.op = FsOp::kAllocate, .path_contains = "", .count = -1, .error = ENOSPC});
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 100 << 10).ok());
  ASSERT_TRUE(WriteMap(*engine_, kB, 0, 0, 500).ok());
  EXPECT_GT(engine_->stats().segment_preallocation_failures, 0u);
  EXPECT_EQ(engine_->stats().segment_bytes_preallocated, 0u);
  env_.ClearFaults();
  Open();
  auto served = ReadAll(*engine_, kA, 100 << 10);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}}));
  served = ReadAll(*engine_, kB, 500);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}}));
}

TEST_F(EngineFaultTest, TheNextRoundIsWrittenWhileARoundSyncs) {
  // Rounds overlap: while one round's fdatasync of shuffle A's segments is held up, a large block
  // pushed to shuffle B meanwhile is written by the next round, before A's commit returns.
  env_.AddFault({.kind = IoKind::kSync, .path_contains = "/shuffles/1/data.seg", .delay_ms = 3000});
  std::atomic<bool> committed{false};
  std::thread writer([&] {
    EXPECT_TRUE(WriteMap(*engine_, kA, 0, 0, 100 << 10).ok());
    committed = true;
  });
  for (int i = 0; i < 2000 && env_.fired() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(env_.fired(), 1) << "the held-up sync never came";
  const std::string block = MakeBlock(2, 0, 0, 0, 0, 100 << 10);
  ASSERT_TRUE(engine_->Push(kB, MapId(0), AttemptId(0), {{PartitionId(0), block}}).ok());
  // B's segment holding partition 0 starts with the block once the next round wrote it.
  auto written = [&] {
    for (const char* d : {"/d0", "/d1"}) {
      std::ifstream in(dir_.path() + d + "/shuffles/2/data.seg", std::ios::binary);
      std::string head(block.size(), '\0');
      if (in.read(head.data(), static_cast<std::streamsize>(head.size())) && head == block) {
        return true;
      }
    }
    return false;
  };
  bool written_while_syncing = false;
  while (!committed.load()) {  // bounded by the held-up commit
    if (written()) {
      written_while_syncing = !committed.load();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  writer.join();
  EXPECT_TRUE(written_while_syncing);
  EXPECT_TRUE(written());
}

TEST_F(EngineFaultTest, LowDiskRefusesNewWritesNamingTheDirectory) {
  EngineOptions options = testing::SmallOptions(dir_.path(), &env_);
  options.min_free_bytes = 1 << 30;
  env_.SetDiskSpace(DiskSpace{.capacity_bytes = 10ull << 30, .free_bytes = 50ull << 30});
  engine_.reset();
  auto engine = StorageEngine::Open(options);
  ASSERT_TRUE(engine.ok());
  engine_ = std::move(*engine);
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 500).ok());
  env_.SetDiskSpace(DiskSpace{.capacity_bytes = 10ull << 30, .free_bytes = 100 << 20});
  absl::Status refused;
  for (int i = 0; i < 50 && refused.ok(); ++i) {  // the engine re-reads free space every 200 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    refused = WriteMap(*engine_, kA, 1 + static_cast<uint32_t>(i), 0, 500).status();
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find(dir_.path() + "/d"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("low-disk watermark"), std::string::npos) << refused;
  EXPECT_GT(engine_->stats().refused_low_disk, 0u);
  auto served = ReadAll(*engine_, kA, 500);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_TRUE(served->count({0, 0}));
}

TEST_F(EngineFaultTest, FailedDirectorySyncFailsTheRegistrationAndARetryWorks) {
  const ShuffleKey key_c{AppId("app-c"), ShuffleId(1)};  // handle 3, then 4 on the retry
  env_.AddFault(
      {.kind = IoKind::kWrite, .op = FsOp::kSyncDir, .path_contains = "/shuffles/3", .error = EIO});
  absl::Status failed = engine_->RegisterShuffle(key_c, "ns-c", kPartitions);
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss) << failed;
  EXPECT_NE(failed.message().find("fsync directory"), std::string::npos) << failed;
  ASSERT_TRUE(engine_->RegisterShuffle(key_c, "ns-c", kPartitions).ok());
  ASSERT_TRUE(WriteMap(*engine_, key_c, 0, 0, 500).ok());
  Open();  // the failed registration's directory is an orphan: removed
  EXPECT_EQ(engine_->recovery_report().orphan_dirs_removed, 1u);
  auto served = ReadAll(*engine_, key_c, 500);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}}));
}

TEST_F(EngineFaultTest, FailedSyncOfARotatedLogsDirectoryFailsCommitsInItUntilOneSucceeds) {
  // Small blocks of 60 KB in two partitions, with extents large enough that nothing is flushed:
  // each commit logs 120 KB, and the third one rotates past the 256 KiB log file. The syncs of
  // the registration and of recovery are done: the next one of shuffle 1's log directory (d1,
  // handle 1 % 2) is the rotation's.
  EngineOptions options = testing::SmallOptions(dir_.path(), &env_);
  options.extent_bytes = 4 << 20;
  options.memory_budget_bytes = 16 << 20;
  engine_.reset();
  auto engine = StorageEngine::Open(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  engine_ = std::move(*engine);
  env_.AddFault({.kind = IoKind::kWrite,
                 .op = FsOp::kSyncDir,
                 .path_contains = "d1/shuffles/1",
                 .count = 2,
                 .error = EIO});
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 60000).ok());
  ASSERT_TRUE(WriteMap(*engine_, kA, 1, 0, 60000).ok());
  auto rotated = WriteMap(*engine_, kA, 2, 0, 60000);
  EXPECT_EQ(rotated.status().code(), absl::StatusCode::kDataLoss) << rotated.status();
  // The next commit lands in the same new file, whose entry is still not durable: it tries the
  // directory sync again, fails again; the one after succeeds.
  EXPECT_FALSE(WriteMap(*engine_, kA, 3, 0, 60000).ok());
  ASSERT_TRUE(WriteMap(*engine_, kA, 4, 0, 60000).ok());
  EXPECT_EQ(env_.fired(), 2);
  ASSERT_TRUE(WriteMap(*engine_, kA, 5, 0, 60000).ok());
  EXPECT_EQ(env_.fired(), 2);  // once synced, no more directory syncs for that file
  Open();
  auto served = ReadAll(*engine_, kA, 60000);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}, {1, 0}, {4, 0}, {5, 0}}));
}

TEST_F(EngineFaultTest, CrashBeforeCommitSyncLeavesNoTrace) {
  ASSERT_TRUE(WriteMap(*engine_, kA, 0, 0, 500).ok());
  engine_.reset();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: crash just before the fdatasync of the next commit's log write.
    FaultInjectionEnv env(Env::Default());
    auto engine = StorageEngine::Open(testing::SmallOptions(dir_.path(), &env));
    if (!engine.ok()) {
      _exit(3);
    }
    env.AddFault({.kind = IoKind::kSync, .path_contains = "/shuffles/1/commit-", .crash = true});
    (void)WriteMap(**engine, kA, 1, 0, 500);
    _exit(4);  // the crash did not happen
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  Open();
  auto served = ReadAll(*engine_, kA, 500);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}}));
}

}  // namespace
}  // namespace shuffle::storage
