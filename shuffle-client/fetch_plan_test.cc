#include "shuffle-client/fetch_plan.h"

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

MapStatus Status(uint32_t map, uint32_t attempt, const std::string& address,
                 std::vector<uint32_t> blocks) {
  std::vector<uint64_t> bytes;
  bytes.reserve(blocks.size());
  for (uint32_t b : blocks) {
    bytes.push_back(b * 100);
  }
  return MapStatus{.node = "n",
                   .address = address,
                   .shuffle = core::ShuffleId(4),
                   .map = core::MapId(map),
                   .attempt = core::AttemptId(attempt),
                   .partition_bytes = std::move(bytes),
                   .partition_blocks = std::move(blocks)};
}

const ShuffleHandle kHandle{
    .app_id = "app", .token = "", .shuffle = core::ShuffleId(4), .num_partitions = 3};

TEST(FetchPlanTest, OnePlanPerServerWithWhatItMustDeliver) {
  const std::vector<MapStatus> statuses = {
      Status(5, 0, "b:1", {1, 2, 0}), Status(9, 2, "a:1", {0, 3, 1}),
      Status(7, 1, "b:1", {4, 1, 0}), Status(3, 0, "c:1", {2, 0, 0})};  // nothing in [1, 3)
  auto plans = PlanFetch(kHandle, 1, 3, statuses);
  ASSERT_TRUE(plans.ok()) << plans.status();
  ASSERT_EQ(plans->size(), 2u);
  const ServerPlan& a = (*plans)[0];
  EXPECT_EQ(a.address, "a:1");
  EXPECT_EQ(a.map_begin, 9u);
  EXPECT_EQ(a.map_end, 10u);
  EXPECT_EQ(a.expected_blocks, 4u);
  EXPECT_EQ(a.expected_bytes, 400u);
  const ServerPlan& b = (*plans)[1];
  EXPECT_EQ(b.address, "b:1");
  EXPECT_EQ(b.map_begin, 5u);
  EXPECT_EQ(b.map_end, 8u);
  EXPECT_EQ(b.expected_blocks, 3u);
  EXPECT_EQ(b.expected_bytes, 300u);
  // Only the attempts the statuses name are accepted.
  EXPECT_NE(b.blocks.Find(5, 0), BlockTracker::kUnknown);
  EXPECT_NE(b.blocks.Find(7, 1), BlockTracker::kUnknown);
  EXPECT_EQ(b.blocks.Find(7, 0), BlockTracker::kUnknown);
  EXPECT_EQ(b.blocks.Find(9, 2), BlockTracker::kUnknown);  // another server's map
}

TEST(FetchPlanTest, RefusesRangesAndStatusesThatDoNotFit) {
  EXPECT_EQ(PlanFetch(kHandle, 2, 2, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanFetch(kHandle, 0, 4, {}).status().code(), absl::StatusCode::kInvalidArgument);
  MapStatus other = Status(1, 0, "a:1", {1, 1, 1});
  other.shuffle = core::ShuffleId(5);
  EXPECT_EQ(PlanFetch(kHandle, 0, 1, {other}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanFetch(kHandle, 0, 3, {Status(1, 0, "a:1", {1, 1})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto none = PlanFetch(kHandle, 0, 3, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

proto::MapHolding Held(uint32_t map, uint32_t attempt, uint64_t blocks, bool committed = true) {
  proto::MapHolding h;
  h.set_map_id(map);
  h.set_committed(committed);
  h.set_attempt(attempt);
  h.set_blocks(blocks);
  h.set_bytes(blocks * 100);
  h.set_attempt_blocks(blocks + 1);
  return h;
}

TEST(FetchPlanTest, LookupPlansResolveToExactlyWhatTheServersHold) {
  auto plans = PlanLookups(kHandle, 0, 2,
                           {MapLocation{"b:1", core::MapId(3), core::AttemptId(7)},
                            MapLocation{"a:1", core::MapId(1), core::AttemptId(2)},
                            MapLocation{"b:1", core::MapId(5), core::AttemptId(9)}});
  ASSERT_TRUE(plans.ok()) << plans.status();
  ASSERT_EQ(plans->size(), 2u);
  ServerPlan& b = (*plans)[1];
  EXPECT_EQ(b.address, "b:1");
  ASSERT_EQ(b.lookup.size(), 2u);
  proto::LookupResponse response;
  *response.add_maps() = Held(3, 7, 4);
  *response.add_maps() = Held(5, 9, 0);  // nothing in the range: not fetched
  ASSERT_TRUE(ResolveLookup(response, &b).ok());
  EXPECT_TRUE(b.lookup.empty());
  EXPECT_EQ(b.expected_blocks, 4u);
  EXPECT_EQ(b.expected_bytes, 400u);
  EXPECT_EQ(b.map_ids, std::vector<uint32_t>{3});
  EXPECT_EQ(b.map_begin, 3u);
  EXPECT_EQ(b.map_end, 4u);
  EXPECT_NE(b.blocks.Find(3, 7), BlockTracker::kUnknown);
  EXPECT_EQ(b.blocks.Find(5, 9), BlockTracker::kUnknown);
}

TEST(FetchPlanTest, ALookupThatFindsAnotherAttemptOrNothingIsNotFound) {
  auto plans = PlanLookups(kHandle, 0, 1, {MapLocation{"a:1", core::MapId(1), core::AttemptId(2)}});
  ASSERT_TRUE(plans.ok());
  proto::LookupResponse other;
  *other.add_maps() = Held(1, 3, 4);
  absl::Status st = ResolveLookup(other, &(*plans)[0]);
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_NE(st.message().find("serves attempt 3"), std::string_view::npos) << st;
  proto::LookupResponse none;
  *none.add_maps() = Held(1, 0, 0, /*committed=*/false);
  EXPECT_TRUE(absl::IsNotFound(ResolveLookup(none, &(*plans)[0])));
  EXPECT_TRUE(
      absl::IsInvalidArgument(PlanLookups(kHandle, 0, 1,
                                          {MapLocation{"a:1", core::MapId(1), core::AttemptId(2)},
                                           MapLocation{"b:1", core::MapId(1), core::AttemptId(3)}})
                                  .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(PlanLookups(kHandle, 2, 9, {}).status()));
}

}  // namespace
}  // namespace shuffle::client
