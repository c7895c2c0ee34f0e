#include "shuffle/client/shuffle_registry.h"

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

MapStatus Status(uint32_t map, const std::string& node, uint32_t attempt = 0) {
  MapStatus s;
  s.node = node;
  s.address = node + ":7340";
  s.shuffle = core::ShuffleId(1);
  s.map = core::MapId(map);
  s.attempt = core::AttemptId(attempt);
  s.partition_bytes = {10, 20};
  s.partition_blocks = {1, 1};
  return s;
}

TEST(ShuffleRegistryTest, CompleteOnceEveryMapIsRegisteredAndTheFirstStatusStays) {
  ShuffleRegistry registry(core::ShuffleId(1), 3, 2);
  EXPECT_TRUE(*registry.Register(Status(0, "a")));
  EXPECT_TRUE(*registry.Register(Status(1, "b")));
  EXPECT_FALSE(registry.Complete());
  EXPECT_FALSE(*registry.Register(Status(1, "c", 5)));
  EXPECT_TRUE(*registry.Register(Status(2, "a")));
  EXPECT_TRUE(registry.Complete());
  EXPECT_EQ(registry.Statuses()[1].node, "b");
  EXPECT_EQ(registry.TotalBytes(), 90u);
}

TEST(ShuffleRegistryTest, LosingANodeForgetsExactlyItsOutputs) {
  ShuffleRegistry registry(core::ShuffleId(1), 4, 2);
  for (uint32_t m = 0; m < 4; ++m) {
    ASSERT_TRUE(registry.Register(Status(m, m % 2 == 0 ? "a" : "b")).ok());
  }
  std::vector<core::MapId> lost = registry.RemoveOutputsOnNode("b");
  ASSERT_EQ(lost.size(), 2u);
  EXPECT_EQ(lost[0], core::MapId(1));
  EXPECT_EQ(lost[1], core::MapId(3));
  EXPECT_EQ(registry.registered(), 2u);
  EXPECT_FALSE(registry.IsRegistered(core::MapId(1)));
  EXPECT_TRUE(registry.IsRegistered(core::MapId(2)));
  EXPECT_EQ(registry.RemoveOutputsAt("a:7340").size(), 2u);
  EXPECT_EQ(registry.registered(), 0u);
}

TEST(ShuffleRegistryTest, StatusesThatDoNotFitAreRefused) {
  ShuffleRegistry registry(core::ShuffleId(1), 2, 2);
  MapStatus other = Status(0, "a");
  other.shuffle = core::ShuffleId(2);
  EXPECT_EQ(registry.Register(other).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(registry.Register(Status(2, "a")).ok());
  MapStatus narrow = Status(0, "a");
  narrow.partition_bytes.pop_back();
  EXPECT_FALSE(registry.Register(narrow).ok());
}

}  // namespace
}  // namespace shuffle::client
