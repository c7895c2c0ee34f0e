#include "shuffle-server/storage/read_plan.h"

#include "gtest/gtest.h"

namespace shuffle::storage {
namespace {

ExtentRecord Extent(uint32_t dir, uint64_t offset,
                    const std::vector<std::pair<uint32_t, uint32_t>>& maps,
                    uint32_t block_len = 1000) {
  ExtentRecord e{
      .handle = 1, .partition = 0, .dir = dir, .offset = offset, .length = 0, .blocks = {}};
  uint32_t seq = 0;
  for (auto [map, attempt] : maps) {
    e.blocks.push_back(BlockEntry{.map = map,
                                  .attempt = attempt,
                                  .epoch = 1,
                                  .seq = seq++,
                                  .partition = 0,
                                  .length = block_len});
    e.length += block_len;
  }
  return e;
}

TEST(ReadPlanTest, FiltersLosersAndSkipsEmptyExtents) {
  WinnerMap winners = {{1, {0, 1}}, {2, {1, 1}}};
  std::vector<ExtentRecord> extents = {Extent(0, 0, {{1, 0}, {2, 0}, {2, 1}}),
                                       Extent(0, 1 << 20, {{3, 0}})};
  auto ranges = PlanReads(extents, winners, 8 << 20);
  ASSERT_EQ(ranges.size(), 1u);
  ASSERT_EQ(ranges[0].slices.size(), 2u);
  EXPECT_EQ(ranges[0].slices[0].offset, 0u);
  EXPECT_EQ(ranges[0].slices[1].offset, 2000u);
  EXPECT_EQ(ranges[0].length, 4096u);
}

TEST(ReadPlanTest, EpochMustMatch) {
  WinnerMap winners = {{1, {0, 2}}};
  EXPECT_TRUE(PlanReads({Extent(0, 0, {{1, 0}})}, winners, 8 << 20).empty());
}

TEST(ReadPlanTest, CoalescesAdjacentExtentsUpToLimit) {
  WinnerMap winners = {{1, {0, 1}}};
  std::vector<ExtentRecord> extents;
  extents.reserve(6);
  for (int i = 0; i < 6; ++i) {
    extents.push_back(Extent(0, uint64_t(i) * 4096, {{1, 0}, {1, 0}}));
  }
  auto ranges = PlanReads(extents, winners, 3 * 4096);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].length, 3u * 4096);
  EXPECT_EQ(ranges[0].slices.size(), 6u);
  EXPECT_EQ(ranges[0].slices[2].offset, 4096u);
  EXPECT_EQ(ranges[1].offset, 3u * 4096);
}

TEST(ReadPlanTest, DoesNotMergeAcrossDirsOrGaps) {
  WinnerMap winners = {{1, {0, 1}}};
  std::vector<ExtentRecord> extents = {Extent(1, 0, {{1, 0}}), Extent(0, 0, {{1, 0}}),
                                       Extent(0, 8192, {{1, 0}})};
  auto ranges = PlanReads(extents, winners, 8 << 20);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0].dir, 0u);
  EXPECT_EQ(ranges[1].offset, 8192u);
  EXPECT_EQ(ranges[2].dir, 1u);
  auto gapped = PlanReads(extents, winners, 8 << 20, /*max_gap=*/4096);
  EXPECT_EQ(gapped.size(), 2u);
}

}  // namespace
}  // namespace shuffle::storage
