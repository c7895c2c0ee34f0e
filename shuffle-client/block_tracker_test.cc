#include "shuffle-client/block_tracker.h"

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

TEST(BlockTrackerTest, OnlyAcceptedAttemptsHaveSlots) {
  BlockTracker tracker;
  tracker.Accept(core::MapId(3), core::AttemptId(1), 4);
  EXPECT_NE(tracker.Find(3, 1), BlockTracker::kUnknown);
  EXPECT_EQ(tracker.Find(3, 0), BlockTracker::kUnknown);  // superseded attempt
  EXPECT_EQ(tracker.Find(4, 1), BlockTracker::kUnknown);  // map not in the statuses
}

TEST(BlockTrackerTest, EachBlockIsDeliveredOnce) {
  BlockTracker tracker;
  tracker.Accept(core::MapId(0), core::AttemptId(0), 70);  // spans two bitmap words
  tracker.Accept(core::MapId(1), core::AttemptId(2), 3);
  const BlockTracker::Slot a = tracker.Find(0, 0);
  const BlockTracker::Slot b = tracker.Find(1, 2);
  for (uint32_t seq = 0; seq < 70; ++seq) {
    ASSERT_FALSE(tracker.Delivered(a, seq)) << seq;
    tracker.MarkDelivered(a, seq);
    ASSERT_TRUE(tracker.Delivered(a, seq)) << seq;
  }
  // The neighbouring attempt's bits are its own.
  for (uint32_t seq = 0; seq < 3; ++seq) {
    EXPECT_FALSE(tracker.Delivered(b, seq)) << seq;
  }
  tracker.MarkDelivered(b, 1);
  EXPECT_FALSE(tracker.Delivered(b, 0));
  EXPECT_TRUE(tracker.Delivered(b, 1));
  EXPECT_FALSE(tracker.Delivered(b, 2));
  EXPECT_EQ(tracker.delivered(), 71u);
}

TEST(BlockTrackerTest, SequenceNumbersBeyondTheStatusStillDeliverOnce) {
  BlockTracker tracker;
  tracker.Accept(core::MapId(5), core::AttemptId(0), 2);
  tracker.Accept(core::MapId(6), core::AttemptId(0), 2);
  const BlockTracker::Slot a = tracker.Find(5, 0);
  const BlockTracker::Slot b = tracker.Find(6, 0);
  EXPECT_FALSE(tracker.Delivered(a, 1000));
  tracker.MarkDelivered(a, 1000);
  EXPECT_TRUE(tracker.Delivered(a, 1000));
  EXPECT_FALSE(tracker.Delivered(b, 1000));
  EXPECT_FALSE(tracker.Delivered(b, 0));
  EXPECT_EQ(tracker.delivered(), 1u);
}

TEST(BlockTrackerTest, AcceptingTheSameAttemptTwiceKeepsItsDeliveries) {
  BlockTracker tracker;
  tracker.Accept(core::MapId(1), core::AttemptId(0), 8);
  tracker.MarkDelivered(tracker.Find(1, 0), 7);
  tracker.Accept(core::MapId(1), core::AttemptId(0), 8);
  EXPECT_TRUE(tracker.Delivered(tracker.Find(1, 0), 7));
}

TEST(BlockTrackerTest, AnAttemptWithoutBlocksOnlyUsesTheFallback) {
  BlockTracker tracker;
  tracker.Accept(core::MapId(9), core::AttemptId(0), 0);
  const BlockTracker::Slot slot = tracker.Find(9, 0);
  ASSERT_NE(slot, BlockTracker::kUnknown);
  EXPECT_FALSE(tracker.Delivered(slot, 0));
  tracker.MarkDelivered(slot, 0);
  EXPECT_TRUE(tracker.Delivered(slot, 0));
}

}  // namespace
}  // namespace shuffle::client
