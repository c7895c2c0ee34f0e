#include "shuffle-server/storage/fetch_plan.h"

#include <vector>

#include "gtest/gtest.h"

namespace shuffle::storage {
namespace {

constexpr int kFds[] = {10, 11};

ReadRange::Slice Slice(uint64_t offset, uint32_t map, uint32_t length) {
  return ReadRange::Slice{
      .offset = offset,
      .entry = BlockEntry{
          .map = map, .attempt = 0, .epoch = 1, .seq = map, .partition = 0, .length = length}};
}

std::vector<uint32_t> Maps(const FetchPlan& plan) {
  std::vector<uint32_t> maps;
  for (const BlockEntry& block : plan.blocks) {
    maps.push_back(block.map);
  }
  return maps;
}

TEST(FetchPlanTest, BackToBackSlicesBecomeOneRange) {
  std::vector<ReadRange> ranges = {
      ReadRange{.dir = 0,
                .offset = 8192,
                .length = 4096,
                .slices = {Slice(0, 1, 1000), Slice(1000, 2, 500), Slice(1500, 3, 2000)}}};
  const FetchPlan plan = BuildFetchPlan(ranges, kFds);
  EXPECT_EQ(Maps(plan), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(plan.bytes, 3500u);
  EXPECT_EQ(plan.ranges, (std::vector<FileRange>{{.fd = 10, .offset = 8192, .length = 3500}}));
  EXPECT_EQ(plan.files, nullptr);
}

TEST(FetchPlanTest, AGapLeftByALosingAttemptSplitsTheRange) {
  // The block at [1000, 1500) lost (not among the slices).
  std::vector<ReadRange> ranges = {ReadRange{
      .dir = 1, .offset = 0, .length = 4096, .slices = {Slice(0, 1, 1000), Slice(1500, 3, 2000)}}};
  const FetchPlan plan = BuildFetchPlan(ranges, kFds);
  EXPECT_EQ(Maps(plan), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(plan.ranges, (std::vector<FileRange>{{.fd = 11, .offset = 0, .length = 1000},
                                                 {.fd = 11, .offset = 1500, .length = 2000}}));
}

TEST(FetchPlanTest, CoalescedExtentsMergeOnlyWithoutPadding) {
  // One coalesced read of three extents: [0, 4096) exactly full, [4096, 5096) padded to 8192,
  // then [8192, 9192).
  std::vector<ReadRange> ranges = {
      ReadRange{.dir = 0,
                .offset = 0,
                .length = 12288,
                .slices = {Slice(0, 1, 4096), Slice(4096, 2, 1000), Slice(8192, 3, 1000)}}};
  const FetchPlan plan = BuildFetchPlan(ranges, kFds);
  EXPECT_EQ(plan.ranges, (std::vector<FileRange>{{.fd = 10, .offset = 0, .length = 5096},
                                                 {.fd = 10, .offset = 8192, .length = 1000}}));
  EXPECT_EQ(plan.bytes, 6096u);
}

TEST(FetchPlanTest, RangesOfOtherFilesNeverMergeAndKeepTheirOrder) {
  std::vector<ReadRange> ranges = {
      ReadRange{.dir = 0, .offset = 0, .length = 4096, .slices = {Slice(0, 1, 4096)}},
      // Where dir 0's range ends, but in the other file.
      ReadRange{.dir = 1, .offset = 4096, .length = 4096, .slices = {Slice(0, 2, 100)}},
      // Adjacent to dir 0's first range, but after dir 1's in the plan: a range of its own.
      ReadRange{.dir = 0, .offset = 4096, .length = 4096, .slices = {Slice(0, 3, 100)}}};
  const FetchPlan plan = BuildFetchPlan(ranges, kFds);
  EXPECT_EQ(Maps(plan), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(plan.ranges, (std::vector<FileRange>{{.fd = 10, .offset = 0, .length = 4096},
                                                 {.fd = 11, .offset = 4096, .length = 100},
                                                 {.fd = 10, .offset = 4096, .length = 100}}));
}

TEST(FetchPlanTest, NoRangesNoBlocks) {
  const FetchPlan plan = BuildFetchPlan({}, kFds);
  EXPECT_TRUE(plan.blocks.empty());
  EXPECT_TRUE(plan.ranges.empty());
  EXPECT_EQ(plan.bytes, 0u);
}

}  // namespace
}  // namespace shuffle::storage
