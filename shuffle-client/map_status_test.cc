#include "shuffle/client/map_status.h"

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

TEST(MapStatusTest, SerializeParseRoundTrip) {
  MapStatus s{.node = "node-1",
              .address = "10.0.0.1:7340",
              .shuffle = core::ShuffleId(3),
              .map = core::MapId(17),
              .attempt = core::AttemptId(2),
              .partition_bytes = {10, 0, 30},
              .partition_blocks = {1, 0, 2}};
  auto parsed = MapStatus::Parse(s.Serialize());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->node, "node-1");
  EXPECT_EQ(parsed->address, "10.0.0.1:7340");
  EXPECT_EQ(parsed->map, core::MapId(17));
  EXPECT_EQ(parsed->attempt, core::AttemptId(2));
  EXPECT_EQ(parsed->partition_bytes, (std::vector<uint64_t>{10, 0, 30}));
  EXPECT_EQ(parsed->total_bytes(), 40u);
  EXPECT_EQ(parsed->total_blocks(), 3u);
}

TEST(MapStatusTest, GarbageIsRejected) {
  EXPECT_EQ(MapStatus::Parse("\xff\xff garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shuffle::client
