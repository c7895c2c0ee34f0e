// What operators rely on: disk accounting per directory and per shuffle that matches the files on
// disk through writes, log rotation and deletion, restarts, removal and reaping; the durable seal
// flag; scrubbing that finds a byte flipped on disk; draining that refuses writes, waits for the
// commits in flight and keeps reads working.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "gmock/gmock.h"
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
using ::testing::HasSubstr;
using testing::MakeBlock;
using testing::SmallOptions;
using testing::TempDir;

constexpr uint32_t kPartitions = 4;

// Pushes `per_partition` blocks of `size` bytes to every partition, then commits.
absl::StatusOr<CommitResult> WriteMap(StorageEngine& engine, const ShuffleKey& key, uint32_t map,
                                      uint32_t per_partition, size_t size) {
  std::vector<std::string> data;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    for (uint32_t b = 0; b < per_partition; ++b) {
      data.push_back(MakeBlock(key.shuffle.value(), map, 0, p, p * per_partition + b, size));
    }
  }
  std::vector<PushedBlock> blocks;
  uint64_t bytes = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    blocks.push_back({PartitionId(static_cast<uint32_t>(i / per_partition)), data[i]});
    bytes += data[i].size();
  }
  if (absl::Status st = engine.Push(key, MapId(map), AttemptId(0), blocks); !st.ok()) {
    return st;
  }
  return engine.Commit(key, {.map = MapId(map),
                             .attempt = AttemptId(0),
                             .num_partitions = kPartitions,
                             .expected_blocks = blocks.size(),
                             .expected_bytes = bytes});
}

struct OnDisk {
  uint64_t bytes = 0;
  uint64_t files = 0;
  uint64_t log_files = 0;
};

OnDisk Measure(const std::string& data_dir) {
  OnDisk disk;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir + "/shuffles")) {
    if (entry.is_regular_file()) {
      disk.bytes += entry.file_size();
      ++disk.files;
      disk.log_files += entry.path().extension() == ".log" ? 1 : 0;
    }
  }
  return disk;
}

// The engine's figures equal what is on disk, per directory, and the shuffles add up to them.
void ExpectAccountingMatchesDisk(const StorageEngine& engine, const std::string& when) {
  SCOPED_TRACE(when);
  const std::vector<DirectoryUsage> dirs = engine.UsageByDirectory();
  std::vector<uint64_t> from_shuffles(dirs.size(), 0);
  for (const ShuffleUsage& u : engine.Usage()) {
    ASSERT_EQ(u.dir_bytes.size(), dirs.size());
    uint64_t sum = 0;
    for (size_t d = 0; d < dirs.size(); ++d) {
      from_shuffles[d] += u.dir_bytes[d];
      sum += u.dir_bytes[d];
    }
    EXPECT_EQ(u.disk_bytes, sum);
  }
  for (size_t d = 0; d < dirs.size(); ++d) {
    const OnDisk disk = Measure(dirs[d].path);
    EXPECT_EQ(dirs[d].used_bytes, disk.bytes) << dirs[d].path;
    EXPECT_EQ(dirs[d].files, disk.files) << dirs[d].path;
    EXPECT_EQ(from_shuffles[d], dirs[d].used_bytes) << dirs[d].path;
  }
}

class EngineOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Open();
  }
  void Open() {
    engine_.reset();
    auto engine = StorageEngine::Open(SmallOptions(dir_.path(), &env_));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  TempDir dir_;
  FaultInjectionEnv env_{Env::Default()};
  std::unique_ptr<StorageEngine> engine_;
};

TEST_F(EngineOpsTest, DiskAccountingMatchesFilesThroughRotationRestartRemovalAndReaping) {
  const ShuffleKey a{AppId("app-a"), ShuffleId(1)};
  const ShuffleKey b{AppId("app-b"), ShuffleId(2)};
  ASSERT_TRUE(engine_->RegisterShuffle(a, "team-a", kPartitions).ok());
  ExpectAccountingMatchesDisk(*engine_, "registered");
  // 20 maps of small blocks: every commit logs ~60 KB, so the 256 KiB log files rotate, and
  // aggregation flushes retire regions, deleting rotated-away log files.
  for (uint32_t map = 0; map < 20; ++map) {
    ASSERT_TRUE(WriteMap(*engine_, a, map, 3, 5000).ok());
  }
  ASSERT_TRUE(WriteMap(*engine_, a, 20, 1, 100 << 10).ok());  // large blocks: own extents
  ExpectAccountingMatchesDisk(*engine_, "written");
  ASSERT_TRUE(engine_->Seal(a).ok());
  ExpectAccountingMatchesDisk(*engine_, "sealed");
  // Every log file but the current one had all its regions retired by the seal: deleted, even
  // those whose last region died while they were still current.
  EXPECT_EQ(Measure(dir_.path() + "/d1").log_files, 1u);

  std::vector<ShuffleUsage> usage = engine_->Usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_TRUE(usage[0].record.sealed);
  EXPECT_EQ(usage[0].committed_maps, 21u);
  EXPECT_GE(usage[0].disk_bytes, usage[0].stored_bytes);

  Open();  // recovery rebuilds the figures from the index
  ExpectAccountingMatchesDisk(*engine_, "restarted");
  usage = engine_->Usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_TRUE(usage[0].record.sealed) << "the seal must survive a restart";
  EXPECT_EQ(usage[0].committed_maps, 21u);
  const uint64_t a_bytes = usage[0].disk_bytes;

  ASSERT_TRUE(engine_->RegisterShuffle(b, "team-b", kPartitions).ok());
  ASSERT_TRUE(WriteMap(*engine_, b, 0, 2, 3000).ok());
  EXPECT_FALSE(engine_->Usage()[1].record.sealed);
  absl::StatusOr<uint64_t> freed = engine_->RemoveShuffle(a);
  ASSERT_TRUE(freed.ok()) << freed.status();
  EXPECT_EQ(*freed, a_bytes);
  ExpectAccountingMatchesDisk(*engine_, "removed");

  auto reaped = engine_->RemoveIdleApplications(absl::ZeroDuration());
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(reaped->size(), 1u);
  ExpectAccountingMatchesDisk(*engine_, "reaped");
  for (const DirectoryUsage& d : engine_->UsageByDirectory()) {
    EXPECT_EQ(d.used_bytes, 0u) << d.path;
    EXPECT_EQ(d.files, 0u) << d.path;
  }
}

TEST_F(EngineOpsTest, ScrubChecksEveryCommittedBlockAndNamesACorruptOne) {
  const ShuffleKey key{AppId("app"), ShuffleId(3)};
  ASSERT_TRUE(engine_->RegisterShuffle(key, "ns", kPartitions).ok());
  for (uint32_t map = 0; map < 3; ++map) {
    ASSERT_TRUE(WriteMap(*engine_, key, map, 2, 7000).ok());
  }
  // Before any seal: committed blocks still in memory are written out and checked too.
  absl::StatusOr<ScrubReport> clean = engine_->Scrub(key);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(clean->maps, 3u);
  EXPECT_EQ(clean->expected_blocks, 3u * kPartitions * 2);
  EXPECT_EQ(clean->blocks_checked, clean->expected_blocks);
  EXPECT_EQ(clean->bytes_checked, clean->expected_bytes);
  EXPECT_EQ(clean->corrupt_blocks, 0u);

  // Flip one byte inside the first block of data directory 0's segment file.
  const std::string segment = dir_.path() + "/d0/shuffles/1/data.seg";
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(100);
    f.write(&c, 1);
  }
  absl::StatusOr<ScrubReport> report = engine_->Scrub(key);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->blocks_checked, report->expected_blocks);
  ASSERT_EQ(report->corrupt_blocks, 1u);
  ASSERT_EQ(report->corrupt.size(), 1u);
  const CorruptBlock& bad = report->corrupt[0];
  EXPECT_EQ(bad.path, segment);
  EXPECT_EQ(bad.offset, 0u);
  EXPECT_LT(bad.block.map, 3u);
  EXPECT_EQ(bad.block.attempt, 0u);
  EXPECT_EQ(bad.block.partition % 2, 0u);  // partitions 0 and 2 live in directory 0
  EXPECT_THAT(bad.error, HasSubstr("checksum mismatch"));
  const EngineStats stats = engine_->stats();
  EXPECT_EQ(stats.scrubs, 2u);
  EXPECT_EQ(stats.scrub_corrupt_blocks, 1u);
  EXPECT_EQ(stats.scrub_blocks, 2 * clean->blocks_checked);

  EXPECT_EQ(engine_->Scrub({AppId("app"), ShuffleId(99)}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineOpsTest, ScrubWhileMapsCommitReportsNoFalseDamage) {
  const ShuffleKey key{AppId("app"), ShuffleId(4)};
  ASSERT_TRUE(engine_->RegisterShuffle(key, "ns", kPartitions).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint32_t map = 0; map < 40; ++map) {
      EXPECT_TRUE(WriteMap(*engine_, key, map, 2, 3000).ok());
    }
    done = true;
  });
  int scrubs = 0;
  while (!done || scrubs == 0) {
    absl::StatusOr<ScrubReport> report = engine_->Scrub(key);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) {
      break;
    }
    // Maps committing during the scrub are either wholly in it or wholly out of it.
    EXPECT_EQ(report->blocks_checked, report->expected_blocks) << "scrub " << scrubs;
    EXPECT_EQ(report->corrupt_blocks, 0u);
    ++scrubs;
  }
  writer.join();
  EXPECT_GT(scrubs, 1);
}

TEST_F(EngineOpsTest, DrainWaitsForTheCommitInFlightThenRefusesWritesButServesReads) {
  const ShuffleKey key{AppId("app"), ShuffleId(5)};
  ASSERT_TRUE(engine_->RegisterShuffle(key, "ns", kPartitions).ok());
  ASSERT_TRUE(WriteMap(*engine_, key, 0, 1, 4000).ok());
  // Hold the next commit in its round: its commit-log sync sleeps.
  env_.AddFault({.kind = IoKind::kSync, .path_contains = "commit-", .delay_ms = 600});
  absl::StatusOr<CommitResult> in_flight = absl::UnknownError("not run");
  std::thread committer([&] { in_flight = WriteMap(*engine_, key, 1, 1, 4000); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env_.fired() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(env_.fired(), 1);
  absl::StatusOr<DrainReport> drained = engine_->Drain(absl::Now() + absl::Seconds(20));
  committer.join();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(drained->commits_waited, 1u);
  ASSERT_TRUE(in_flight.ok()) << in_flight.status();  // finished, not cut short
  EXPECT_TRUE(in_flight->won);
  EXPECT_TRUE(engine_->draining());

  absl::StatusOr<CommitResult> refused = WriteMap(*engine_, key, 2, 1, 4000);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("server draining"));
  absl::Status commit =
      engine_
          ->Commit(key, {.map = MapId(3), .attempt = AttemptId(0), .num_partitions = kPartitions})
          .status();
  EXPECT_EQ(commit.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(commit.message(), HasSubstr("server draining"));
  absl::Status registered = engine_->RegisterShuffle({AppId("app"), ShuffleId(6)}, "ns", 1);
  EXPECT_EQ(registered.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(engine_->stats().refused_draining, 3u);
  EXPECT_TRUE(engine_->stats().draining);

  // Reads (and seals, scrubs) keep working; both committed maps are served.
  std::set<uint32_t> maps;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto blocks = engine_->Read(
        key, {.partition_begin = PartitionId(p), .partition_end = PartitionId(p + 1)});
    ASSERT_TRUE(blocks.ok()) << blocks.status();
    for (const ServedBlock& block : *blocks) {
      maps.insert(block.origin.map);
    }
  }
  EXPECT_EQ(maps, (std::set<uint32_t>{0, 1}));
  EXPECT_TRUE(engine_->Seal(key).ok());
  EXPECT_TRUE(engine_->Drain(absl::Now() + absl::Seconds(5)).ok());  // idempotent
}

TEST_F(EngineOpsTest, DrainReportsCommitsStillRunningAtTheDeadline) {
  const ShuffleKey key{AppId("app"), ShuffleId(5)};
  ASSERT_TRUE(engine_->RegisterShuffle(key, "ns", kPartitions).ok());
  env_.AddFault({.kind = IoKind::kSync, .path_contains = "commit-", .delay_ms = 1500});
  absl::StatusOr<CommitResult> in_flight = absl::UnknownError("not run");
  std::thread committer([&] { in_flight = WriteMap(*engine_, key, 0, 1, 4000); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env_.fired() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  absl::StatusOr<DrainReport> drained = engine_->Drain(absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(drained.status().code(), absl::StatusCode::kDeadlineExceeded) << drained.status();
  EXPECT_THAT(drained.status().message(), HasSubstr("1 commits still in flight"));
  committer.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.status();
  EXPECT_TRUE(engine_->Drain(absl::Now() + absl::Seconds(20)).ok());
}

}  // namespace
}  // namespace shuffle::storage
