#include "shuffle-server/storage/write_buffers.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "shuffle-server/storage/catalog.h"

namespace shuffle::storage {
namespace {

constexpr uint64_t kExtent = 1000;

class WriteBuffersTest : public ::testing::Test {
 protected:
  WriteBuffersTest()
      : buffers_(
            {.extent_bytes = kExtent, .direct_block_bytes = 800, .memory_budget_bytes = 4000}) {
    shuffle_ = std::make_shared<ShuffleState>();
    shuffle_->partitions.resize(3);
    shuffles_[ShuffleKey{core::AppId("a"), core::ShuffleId(1)}] = shuffle_;
  }
  BlockPtr Block(uint32_t partition, size_t size) {
    auto block = std::make_shared<PendingBlock>();
    block->entry.partition = partition;
    block->entry.length = static_cast<uint32_t>(size);
    block->CopyBytes(std::string(size, 'x'));
    return block;
  }

  WriteBuffers buffers_;
  ShufflePtr shuffle_;
  absl::flat_hash_map<ShuffleKey, ShufflePtr> shuffles_;
};

TEST_F(WriteBuffersTest, SmallBlocksAggregateUntilAnExtentsWorth) {
  EXPECT_FALSE(buffers_.Add(shuffle_, Block(0, 400)));
  EXPECT_FALSE(buffers_.Add(shuffle_, Block(0, 500)));
  EXPECT_FALSE(buffers_.HasWork());
  EXPECT_TRUE(buffers_.Add(shuffle_, Block(0, 100)));  // 1000 bytes: full
  EXPECT_TRUE(buffers_.HasWork());
  EXPECT_EQ(buffers_.memory_bytes(), 1000u);
  auto flushes = buffers_.TakeFlushes(shuffles_);
  ASSERT_EQ(flushes.size(), 1u);
  EXPECT_EQ(flushes[0].partition, 0u);
  EXPECT_EQ(flushes[0].length, 1000u);
  EXPECT_EQ(flushes[0].blocks.size(), 3u);
  EXPECT_EQ(flushes[0].blocks[0]->state, BlockState::kFlushing);
  EXPECT_TRUE(shuffle_->partitions[0].blocks.empty());
  EXPECT_EQ(buffers_.memory_bytes(), 1000u);  // held until released
  for (BlockPtr& block : flushes[0].blocks) {
    buffers_.Release(*block);
  }
  EXPECT_EQ(buffers_.memory_bytes(), 0u);
}

TEST_F(WriteBuffersTest, LargeBlocksAreQueuedAsTheirOwnExtents) {
  EXPECT_TRUE(buffers_.IsDirect(800));
  EXPECT_TRUE(buffers_.Add(shuffle_, Block(1, 900)));
  EXPECT_TRUE(shuffle_->partitions[1].blocks.empty());
  auto direct = buffers_.TakeDirect();
  ASSERT_EQ(direct.size(), 1u);
  EXPECT_EQ(direct[0].second->state, BlockState::kFlushing);
  EXPECT_TRUE(buffers_.TakeDirect().empty());
}

TEST_F(WriteBuffersTest, BudgetAndPressureWriteTheLargestBuffersFirst) {
  EXPECT_FALSE(buffers_.OverBudget(5000));  // nothing held: any push is admitted
  buffers_.Add(shuffle_, Block(0, 700));
  buffers_.Add(shuffle_, Block(0, 290));  // partition 0: 990 bytes, not yet an extent's worth
  buffers_.Add(shuffle_, Block(1, 600));
  buffers_.Add(shuffle_, Block(1, 300));  // partition 1: 900
  buffers_.Add(shuffle_, Block(2, 500));  // partition 2: 500; 2390 in all
  EXPECT_FALSE(buffers_.OverBudget(1610));
  EXPECT_TRUE(buffers_.OverBudget(1611));
  EXPECT_FALSE(buffers_.HasWork());
  buffers_.NotePressure();
  EXPECT_TRUE(buffers_.HasWork());
  // Under pressure the largest buffers go first, until memory would be under half the budget
  // (2000): partition 0 alone brings it to 1400.
  auto flushes = buffers_.TakeFlushes(shuffles_);
  ASSERT_EQ(flushes.size(), 1u);
  EXPECT_EQ(flushes[0].partition, 0u);
  EXPECT_FALSE(buffers_.HasWork());  // the pressure was served
}

TEST_F(WriteBuffersTest, RequestedPartitionsAreWrittenEvenWhenSmall) {
  buffers_.Add(shuffle_, Block(2, 10));
  buffers_.RequestFlush(shuffle_, 2);
  auto flushes = buffers_.TakeFlushes(shuffles_);
  ASSERT_EQ(flushes.size(), 1u);
  EXPECT_EQ(flushes[0].partition, 2u);
  EXPECT_FALSE(shuffle_->partitions[2].flush_requested);
}

TEST_F(WriteBuffersTest, FailedFlushGoesBackToTheFrontAndPauses) {
  buffers_.Add(shuffle_, Block(0, 600));
  buffers_.Add(shuffle_, Block(0, 600));
  auto flushes = buffers_.TakeFlushes(shuffles_);
  ASSERT_EQ(flushes.size(), 1u);
  buffers_.Add(shuffle_, Block(0, 5));  // pushed while the flush ran
  buffers_.Restore(shuffle_, 0, std::move(flushes[0].blocks), absl::DataLossError("EIO"));
  EXPECT_EQ(buffers_.last_flush_error().code(), absl::StatusCode::kDataLoss);
  const PartitionBuffer& buffer = shuffle_->partitions[0];
  ASSERT_EQ(buffer.blocks.size(), 3u);
  EXPECT_EQ(buffer.blocks[0]->bytes().size(), 600u);  // restored blocks keep push order
  EXPECT_EQ(buffer.blocks[2]->bytes().size(), 5u);
  EXPECT_EQ(buffer.bytes, 1205u);
  EXPECT_EQ(buffer.blocks[0]->state, BlockState::kInMemory);
  EXPECT_TRUE(buffers_.TakeFlushes(shuffles_).empty());  // paused after a failure
}

TEST_F(WriteBuffersTest, RemovedShufflesAreSkippedAndTheirFailedBlocksDropped) {
  buffers_.Add(shuffle_, Block(1, 900));
  buffers_.Add(shuffle_, Block(0, 1000));
  shuffle_->removed = true;
  EXPECT_TRUE(buffers_.TakeDirect().empty());
  EXPECT_TRUE(buffers_.TakeFlushes(shuffles_).empty());
  std::vector<BlockPtr> blocks = {Block(0, 50)};
  buffers_.Add(shuffle_, blocks[0]);
  const uint64_t before = buffers_.memory_bytes();
  buffers_.Restore(shuffle_, 0, blocks, absl::DataLossError("EIO"));
  EXPECT_EQ(buffers_.memory_bytes(), before - 50);
  EXPECT_EQ(blocks[0]->state, BlockState::kDurable);
}

}  // namespace
}  // namespace shuffle::storage
