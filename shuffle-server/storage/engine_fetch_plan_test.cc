// StorageEngine::PlanFetch: the plan serves exactly what Read serves, in the same order; it
// flushes aggregating blocks like a read; it costs about one disk read per MiB with small blocks;
// its descriptors are buffered (sendfile goes through the page cache) and outlive a removal of
// the shuffle; read faults injected through the Env do not apply to it.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

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
using testing::SmallOptions;
using testing::TempDir;

constexpr uint32_t kPartitions = 3;
const ShuffleKey kKey{AppId("app-1"), ShuffleId(4)};

// Pushes `per_partition` blocks of `size` bytes to every partition; commits unless told not to.
absl::Status WriteMap(StorageEngine& engine, uint32_t map, uint32_t attempt, uint32_t per_partition,
                      size_t size, bool commit = true) {
  std::vector<std::string> data;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    for (uint32_t b = 0; b < per_partition; ++b) {
      data.push_back(MakeBlock(kKey.shuffle.value(), map, attempt, p, p * per_partition + b, size));
    }
  }
  std::vector<PushedBlock> blocks;
  uint64_t bytes = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    blocks.push_back({PartitionId(static_cast<uint32_t>(i / per_partition)), data[i]});
    bytes += data[i].size();
  }
  absl::Status pushed = engine.Push(kKey, MapId(map), AttemptId(attempt), blocks);
  if (!pushed.ok() || !commit) {
    return pushed;
  }
  return engine
      .Commit(kKey, {.map = MapId(map),
                     .attempt = AttemptId(attempt),
                     .num_partitions = kPartitions,
                     .expected_blocks = blocks.size(),
                     .expected_bytes = bytes})
      .status();
}

ReadRequest Partitions(uint32_t begin, uint32_t end) {
  return ReadRequest{.partition_begin = PartitionId(begin), .partition_end = PartitionId(end)};
}

// The plan's blocks with their bytes, read with pread from the plan's descriptors.
std::vector<ServedBlock> Materialize(const FetchPlan& plan) {
  std::string bytes;
  for (const FileRange& range : plan.ranges) {
    std::string chunk(range.length, '\0');
    const ssize_t n = pread(range.fd, chunk.data(), chunk.size(), static_cast<off_t>(range.offset));
    EXPECT_EQ(n, static_cast<ssize_t>(range.length)) << "fd " << range.fd;
    bytes += chunk;
  }
  EXPECT_EQ(bytes.size(), plan.bytes);
  std::vector<ServedBlock> blocks;
  size_t at = 0;
  for (const BlockEntry& entry : plan.blocks) {
    blocks.push_back(ServedBlock{.origin = entry, .bytes = bytes.substr(at, entry.length)});
    at += entry.length;
  }
  return blocks;
}

void ExpectSameBlocks(const std::vector<ServedBlock>& got, const std::vector<ServedBlock>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].origin.map, want[i].origin.map) << "block " << i;
    EXPECT_EQ(got[i].origin.attempt, want[i].origin.attempt) << "block " << i;
    EXPECT_EQ(got[i].origin.seq, want[i].origin.seq) << "block " << i;
    EXPECT_EQ(got[i].origin.partition, want[i].origin.partition) << "block " << i;
    EXPECT_TRUE(got[i].bytes == want[i].bytes) << "block " << i;
  }
}

class EngineFetchPlanTest : public ::testing::Test {
 protected:
  void Open(const EngineOptions& options) {
    engine_.reset();
    auto engine = StorageEngine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    ASSERT_TRUE(engine_->RegisterShuffle(kKey, "ns", kPartitions).ok());
  }
  void SetUp() override { Open(SmallOptions(dir_.path())); }

  TempDir dir_;
  std::unique_ptr<StorageEngine> engine_;
};

TEST_F(EngineFetchPlanTest, ServesWhatReadServesInTheSameOrder) {
  ASSERT_TRUE(WriteMap(*engine_, 0, 0, 6, 1000).ok());
  ASSERT_TRUE(WriteMap(*engine_, 1, 0, 2, 100 << 10).ok());    // direct extents
  ASSERT_TRUE(WriteMap(*engine_, 2, 2, 3, 7000, false).ok());  // speculative, loses
  ASSERT_TRUE(WriteMap(*engine_, 2, 1, 3, 7000).ok());
  ASSERT_TRUE(WriteMap(*engine_, 3, 0, 3, 5000, false).ok());  // never committed
  ASSERT_TRUE(engine_->Seal(kKey).ok());
  for (const ReadRequest& request : {Partitions(0, kPartitions), Partitions(1, 2),
                                     ReadRequest{.partition_begin = PartitionId(0),
                                     .partition_end = PartitionId(kPartitions),
                                     .map_begin = MapId(1),
                                     .map_end = MapId(3)}}) {
    auto read = engine_->Read(kKey, request);
    ASSERT_TRUE(read.ok()) << read.status();
    auto plan = engine_->PlanFetch(kKey, request);
    ASSERT_TRUE(plan.ok()) << plan.status();
    ExpectSameBlocks(Materialize(*plan), *read);
    EXPECT_NE(plan->files, nullptr);
    EXPECT_LT(plan->ranges.size(), plan->blocks.size()) << "neighbouring blocks were not merged";
  }
}

TEST_F(EngineFetchPlanTest, FirstPlanOfAPartitionFlushesWhatIsAggregating) {
  // Small committed blocks stay in memory (and the commit log) until something flushes them.
  ASSERT_TRUE(WriteMap(*engine_, 0, 0, 4, 900).ok());
  auto plan = engine_->PlanFetch(kKey, Partitions(2, 3));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->blocks.size(), 4u);
  const std::vector<ServedBlock> blocks = Materialize(*plan);
  for (const ServedBlock& block : blocks) {
    EXPECT_EQ(block.bytes, MakeBlock(kKey.shuffle.value(), 0, 0, 2, block.origin.seq, 900));
  }
  EXPECT_EQ(plan->ranges.size(), 1u);
}

TEST_F(EngineFetchPlanTest, SmallBlocksCostAboutOneReadPerMebibyte) {
  EngineOptions options = SmallOptions(dir_.path());
  options.data_dirs = {dir_.path() + "/single"};
  options.extent_bytes = 1 << 20;
  options.direct_block_bytes = 1 << 20;
  options.memory_budget_bytes = 64 << 20;
  Open(options);
  constexpr uint32_t kMaps = 600;
  for (uint32_t map = 0; map < kMaps; ++map) {
    ASSERT_TRUE(WriteMap(*engine_, map, 0, 1, 4096 - core::kBlockHeaderSize).ok());
  }
  const EngineStats before = engine_->stats();
  auto plan = engine_->PlanFetch(kKey, Partitions(1, 2));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->blocks.size(), kMaps);
  const uint64_t ideal = (plan->bytes + (1 << 20) - 1) >> 20;
  EXPECT_LE(plan->ranges.size(), ideal + 1);
  const EngineStats after = engine_->stats();
  EXPECT_EQ(after.disk_reads - before.disk_reads, plan->ranges.size());
  EXPECT_EQ(after.bytes_read - before.bytes_read, plan->bytes);
}

TEST_F(EngineFetchPlanTest, DescriptorsAreBufferedForSendfile) {
  ASSERT_TRUE(WriteMap(*engine_, 0, 0, 1, 100 << 10).ok());
  auto plan = engine_->PlanFetch(kKey, Partitions(0, kPartitions));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_FALSE(plan->ranges.empty());
  for (const FileRange& range : plan->ranges) {
    const int flags = fcntl(range.fd, F_GETFL);
    ASSERT_GE(flags, 0);
    EXPECT_EQ(flags & O_DIRECT, 0) << "sendfile on O_DIRECT would bypass the page cache";
    EXPECT_EQ(flags & O_ACCMODE, O_RDONLY);
  }
}

TEST_F(EngineFetchPlanTest, PlanOutlivesRemovalOfTheApplication) {
  ASSERT_TRUE(WriteMap(*engine_, 0, 0, 3, 3000).ok());
  ASSERT_TRUE(WriteMap(*engine_, 1, 0, 1, 100 << 10).ok());
  auto read = engine_->Read(kKey, Partitions(0, kPartitions));
  ASSERT_TRUE(read.ok()) << read.status();
  auto plan = engine_->PlanFetch(kKey, Partitions(0, kPartitions));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(engine_->RemoveApplication(kKey.app).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/d0/shuffles/1"));
  EXPECT_TRUE(absl::IsNotFound(engine_->PlanFetch(kKey, Partitions(0, 1)).status()));
  // The files are unlinked, and still readable through the plan's descriptors.
  ExpectSameBlocks(Materialize(*plan), *read);
  const int fd = plan->ranges.front().fd;
  char link[256] = {};
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_NE(std::string(link).find("(deleted)"), std::string::npos) << link;
  // Dropping the plan closes them.
  plan = absl::StatusOr<FetchPlan>(FetchPlan{});
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1);
  EXPECT_TRUE(n < 0 ||
              std::string(link, static_cast<size_t>(n)).find("data.seg") == std::string::npos);
}

// A plan waiting for its partitions' buffers to be flushed when the shuffle is removed: removal
// drops those buffers, so no round will ever write them; the plan is refused at once rather than
// waiting for some later round (a fetch racing an application's removal used to hang until the
// next push to the server).
TEST_F(EngineFetchPlanTest, PlanWaitingForAFlushIsRefusedWhenTheShuffleIsRemoved) {
  // Another shuffle's large pushes keep rounds going, so removals also queue behind a round.
  const ShuffleKey busy{kKey.app, ShuffleId(99)};
  ASSERT_TRUE(engine_->RegisterShuffle(busy, "ns", kPartitions).ok());
  std::atomic<bool> done{false};
  std::thread pusher([&] {
    for (uint32_t attempt = 0; !done && attempt < 100000; ++attempt) {
      const std::string block = MakeBlock(busy.shuffle.value(), 0, attempt, 0, 0, 64 << 10);
      const std::vector<PushedBlock> one = {{PartitionId(0), block}};
      (void)engine_->Push(busy, MapId(0), AttemptId(attempt), one);
      (void)engine_->Commit(busy, {.map = MapId(0),
                                   .attempt = AttemptId(attempt),
                                   .num_partitions = kPartitions,
                                   .expected_blocks = 1,
                                   .expected_bytes = block.size()});
    }
  });
  int refused = 0;
  for (uint32_t round = 0; round < 200; ++round) {
    const ShuffleKey key{kKey.app, ShuffleId(100 + round)};
    ASSERT_TRUE(engine_->RegisterShuffle(key, "ns", kPartitions).ok());
    std::vector<std::string> data;
    std::vector<PushedBlock> blocks;
    blocks.reserve(4);
    for (uint32_t b = 0; b < 4; ++b) {  // small: they aggregate in memory until flushed
      data.push_back(MakeBlock(key.shuffle.value(), 0, 0, 1, b, 900));
    }
    for (const std::string& block : data) {
      blocks.push_back({PartitionId(1), block});
    }
    ASSERT_TRUE(engine_->Push(key, MapId(0), AttemptId(0), blocks).ok());
    ASSERT_TRUE(engine_
                    ->Commit(key, {.map = MapId(0),
                                   .attempt = AttemptId(0),
                                   .num_partitions = kPartitions,
                                   .expected_blocks = blocks.size(),
                                   .expected_bytes = 4 * data[0].size()})
                    .ok());
    std::future<absl::StatusOr<FetchPlan>> plan =
        std::async(std::launch::async, [&] { return engine_->PlanFetch(key, Partitions(1, 2)); });
    // Removals land at different instants of the plan: before it, while it waits, after it.
    std::this_thread::sleep_for(std::chrono::microseconds(25 * (round % 40)));
    ASSERT_TRUE(engine_->RemoveShuffle(key).ok());
    // Nothing else is pushed: only the removal can end a wait for a flush.
    if (plan.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "round " << round
                    << ": the plan still waits for a flush of a removed shuffle";
      plan.wait();  // the pusher's next round lets it go
      break;
    }
    const absl::StatusOr<FetchPlan> got = plan.get();
    if (got.ok()) {
      EXPECT_EQ(got->blocks.size(), 4u) << "round " << round;
    } else {
      EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
      ++refused;
    }
  }
  done = true;
  pusher.join();
  RecordProperty("refused", refused);
}

TEST_F(EngineFetchPlanTest, InjectedReadFaultsDoNotApplyToPlans) {
  // FaultInjectionEnv injects into IoEngine ops; a plan is sent with sendfile on the real
  // descriptors, so tests of read faults use Read.
  FaultInjectionEnv env(Env::Default());
  Open(SmallOptions(dir_.path() + "/faulty", &env));
  ASSERT_TRUE(WriteMap(*engine_, 0, 0, 2, 2000).ok());
  ASSERT_TRUE(engine_->Seal(kKey).ok());
  env.AddFault({.kind = IoKind::kRead, .path_contains = "data.seg", .count = -1, .error = EIO});
  EXPECT_FALSE(engine_->Read(kKey, Partitions(0, kPartitions)).ok());
  auto plan = engine_->PlanFetch(kKey, Partitions(0, kPartitions));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Materialize(*plan).size(), 2u * kPartitions);
  env.ClearFaults();
  engine_.reset();  // before `env`
}

TEST_F(EngineFetchPlanTest, NamedMapsOnlyAndLookupFromCommitRecords) {
  ASSERT_TRUE(WriteMap(*engine_, 0, 4, 2, 1000).ok());
  ASSERT_TRUE(WriteMap(*engine_, 1, 5, 3, 1000).ok());
  // A later attempt of map 1 is refused: the first one won.
  EXPECT_TRUE(absl::IsAlreadyExists(WriteMap(*engine_, 1, 6, 3, 1000)));
  ASSERT_TRUE(WriteMap(*engine_, 2, 7, 1, 1000).ok());
  ReadRequest only = Partitions(1, kPartitions);
  only.maps = {MapId(2), MapId(0)};
  auto plan = engine_->PlanFetch(kKey, only);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->blocks.size(), 2u * 2 + 2u * 1);
  for (const BlockEntry& block : plan->blocks) {
    EXPECT_NE(block.map, 1u);
    EXPECT_GE(block.partition, 1u);
  }
  auto holdings = engine_->Lookup(kKey, PartitionId(1), PartitionId(kPartitions),
                                  {MapId(1), MapId(9), MapId(0)});
  ASSERT_TRUE(holdings.ok()) << holdings.status();
  ASSERT_EQ(holdings->size(), 3u);
  EXPECT_TRUE((*holdings)[0].committed);
  EXPECT_EQ((*holdings)[0].attempt.value(), 5u);
  EXPECT_EQ((*holdings)[0].blocks, 6u);  // 3 per partition in [1, 3)
  EXPECT_EQ((*holdings)[0].attempt_blocks, 9u);
  EXPECT_EQ((*holdings)[0].bytes, 6 * MakeBlock(kKey.shuffle.value(), 1, 5, 1, 3, 1000).size());
  EXPECT_FALSE((*holdings)[1].committed);
  EXPECT_EQ((*holdings)[2].blocks, 4u);
  EXPECT_TRUE(absl::IsNotFound(
      engine_->Lookup({AppId("other"), ShuffleId(4)}, PartitionId(0), PartitionId(1), {MapId(0)})
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      engine_->Lookup(kKey, PartitionId(2), PartitionId(kPartitions + 1), {MapId(0)}).status()));
}

TEST_F(EngineFetchPlanTest, CountsTheRecordsOfPushedBlocks) {
  const uint64_t before = engine_->stats().records_pushed;
  ASSERT_TRUE(WriteMap(*engine_, 0, 0, 2, 1000).ok());
  const core::BlockHeader header =
      *core::ParseBlockHeader(MakeBlock(kKey.shuffle.value(), 0, 0, 0, 0, 1000));
  EXPECT_EQ(engine_->stats().records_pushed - before, 2u * kPartitions * header.record_count);
  EXPECT_GT(header.record_count, 0u);
}

}  // namespace
}  // namespace shuffle::storage
