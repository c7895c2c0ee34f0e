// Per-namespace disk quotas and cleanup of idle applications.
#include <thread>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/engine_test_util.h"

namespace shuffle::storage {
namespace {

using core::AppId;
using core::AttemptId;
using core::MapId;
using core::PartitionId;
using core::ShuffleId;
using testing::MakeBlock;

absl::StatusOr<CommitResult> WriteMap(StorageEngine& engine, const ShuffleKey& key, uint32_t map,
                                      size_t size) {
  const std::string block = MakeBlock(key.shuffle.value(), map, 0, 0, 0, size);
  if (absl::Status st = engine.Push(key, MapId(map), AttemptId(0), {{PartitionId(0), block}});
      !st.ok()) {
    return st;
  }
  return engine.Commit(key, {.map = MapId(map),
                             .attempt = AttemptId(0),
                             .num_partitions = 1,
                             .expected_blocks = 1,
                             .expected_bytes = block.size()});
}

TEST(EngineQuotaTest, QuotaRefusalNamesTheQuotaAndKeepsCommittedData) {
  testing::TempDir dir;
  EngineOptions options = testing::SmallOptions(dir.path());
  options.namespace_quota_bytes["team-a"] = 50'000;
  auto engine = StorageEngine::Open(options);
  ASSERT_TRUE(engine.ok());
  const ShuffleKey a{AppId("app-a"), ShuffleId(1)};
  const ShuffleKey b{AppId("app-b"), ShuffleId(1)};
  ASSERT_TRUE((*engine)->RegisterShuffle(a, "team-a", 1).ok());
  ASSERT_TRUE((*engine)->RegisterShuffle(b, "team-b", 1).ok());
  ASSERT_TRUE(WriteMap(**engine, a, 0, 30'000).ok());
  auto refused = WriteMap(**engine, a, 1, 30'000);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("namespace team-a"), std::string::npos);
  EXPECT_NE(refused.status().message().find("quota of 50000 bytes"), std::string::npos);
  EXPECT_EQ((*engine)->stats().refused_quota, 1u);
  // Other namespaces are not limited, and committed data is intact.
  ASSERT_TRUE(WriteMap(**engine, b, 0, 80'000).ok());
  auto blocks =
      (*engine)->Read(a, {.partition_begin = PartitionId(0), .partition_end = PartitionId(1)});
  ASSERT_TRUE(blocks.ok());
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ((*blocks)[0].bytes, MakeBlock(1, 0, 0, 0, 0, 30'000));
  // Usage survives a restart (committed bytes), and removing the application frees the quota.
  engine->reset();
  engine = StorageEngine::Open(options);
  ASSERT_TRUE(engine.ok());
  EXPECT_EQ((*engine)->NamespaceUsage()["team-a"], 30'000 + core::kBlockHeaderSize);
  ASSERT_TRUE((*engine)->RemoveApplication(AppId("app-a")).ok());
  EXPECT_EQ((*engine)->NamespaceUsage()["team-a"], 0u);
}

TEST(EngineQuotaTest, IdleApplicationsAreRemovedActiveOnesKept) {
  testing::TempDir dir;
  auto engine = StorageEngine::Open(testing::SmallOptions(dir.path()));
  ASSERT_TRUE(engine.ok());
  const ShuffleKey idle{AppId("idle-app"), ShuffleId(1)};
  const ShuffleKey busy{AppId("busy-app"), ShuffleId(1)};
  ASSERT_TRUE((*engine)->RegisterShuffle(idle, "ns", 1).ok());
  ASSERT_TRUE((*engine)->RegisterShuffle(busy, "ns", 1).ok());
  ASSERT_TRUE(WriteMap(**engine, idle, 0, 1000).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(WriteMap(**engine, busy, 0, 1000).ok());
  auto removed = (*engine)->RemoveIdleApplications(absl::Milliseconds(200));
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0], AppId("idle-app"));
  EXPECT_EQ((*engine)
                ->Read(idle, {.partition_begin = PartitionId(0), .partition_end = PartitionId(1)})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE((*engine)
                  ->Read(busy, {.partition_begin = PartitionId(0), .partition_end = PartitionId(1)})
                  .ok());
}

}  // namespace
}  // namespace shuffle::storage
