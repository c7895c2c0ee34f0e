#include "shuffle-server/handover/progress.h"

#include <gtest/gtest.h>

namespace shuffle::handover {
namespace {

TEST(HandOverProgressTest, CountsWhatMovedFailedAndIsLeft) {
  HandOverProgress progress;
  EXPECT_FALSE(progress.snapshot().running);
  EXPECT_EQ(progress.snapshot().started_unix_ms, 0);
  progress.Start();
  progress.SetTotals(3, 300);
  progress.Moved(100);
  progress.Failed(50);
  HandOverProgress::Snapshot s = progress.snapshot();
  EXPECT_TRUE(s.running);
  EXPECT_EQ(s.handovers, 1u);
  EXPECT_EQ(s.outputs_moved, 1u);
  EXPECT_EQ(s.outputs_failed, 1u);
  EXPECT_EQ(s.outputs_left(), 1u);
  EXPECT_EQ(s.bytes_left(), 150u);
  progress.Moved(150);
  progress.Finish();
  s = progress.snapshot();
  EXPECT_FALSE(s.running);
  EXPECT_EQ(s.outputs_left(), 0u);
  EXPECT_EQ(s.bytes_left(), 0u);

  // A second hand-over starts its own counts; the totals go on.
  EXPECT_GT(s.finished_unix_ms, 0);
  EXPECT_GE(s.finished_unix_ms, s.started_unix_ms);
  progress.Start();
  EXPECT_EQ(progress.snapshot().finished_unix_ms, 0);
  progress.SetTotals(1, 10);
  progress.Moved(10);
  s = progress.snapshot();
  EXPECT_EQ(s.handovers, 2u);
  EXPECT_EQ(s.outputs_moved, 1u);
  EXPECT_EQ(s.outputs_failed, 0u);
  EXPECT_EQ(s.outputs_moved_total, 3u);
  EXPECT_EQ(s.bytes_moved_total, 260u);
  EXPECT_EQ(s.outputs_failed_total, 1u);
}

}  // namespace
}  // namespace shuffle::handover
