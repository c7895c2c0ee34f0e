#include "shuffle-server/storage/buffer_pool.h"

#include "gtest/gtest.h"

namespace shuffle::storage {
namespace {

constexpr uint64_t kPage = kDirectIoAlignment;

TEST(BufferPoolTest, ReusesAFreedBufferThatFits) {
  BufferPool pool(64 * kPage);
  AlignedBuffer first = pool.Take(8 * kPage);
  ASSERT_EQ(first.size(), 8 * kPage);
  char* const memory = first.data();
  pool.Give(std::move(first));
  EXPECT_EQ(pool.free_bytes(), 8 * kPage);
  // A smaller request (at least half the size) gets the same memory back.
  AlignedBuffer again = pool.Take(5 * kPage);
  EXPECT_EQ(again.data(), memory);
  EXPECT_EQ(again.size(), 8 * kPage);
  EXPECT_EQ(pool.free_bytes(), 0u);
  EXPECT_EQ(pool.reused(), 1u);
  EXPECT_EQ(pool.allocated(), 1u);
}

TEST(BufferPoolTest, PicksTheSmallestFitAndSkipsTooLargeOrTooSmall) {
  BufferPool pool(64 * kPage);
  pool.Give(AlignedBuffer(16 * kPage));
  pool.Give(AlignedBuffer(4 * kPage));
  pool.Give(AlignedBuffer(2 * kPage));
  EXPECT_EQ(pool.Take(3 * kPage).size(), 4 * kPage);
  // 16 pages is more than twice 1 page and the 2-page buffer fits: that one.
  EXPECT_EQ(pool.Take(1 * kPage).size(), 2 * kPage);
  // Nothing free fits 32 pages: a new buffer.
  EXPECT_EQ(pool.Take(32 * kPage).size(), 32 * kPage);
  // Only the 16-page buffer is left, and 1 page would waste most of it: a new one.
  EXPECT_EQ(pool.Take(1 * kPage).size(), 1 * kPage);
  EXPECT_EQ(pool.free_bytes(), 16 * kPage);
}

TEST(BufferPoolTest, HoldsAtMostItsLimit) {
  BufferPool pool(10 * kPage);
  pool.Give(AlignedBuffer(8 * kPage));
  pool.Give(AlignedBuffer(4 * kPage));  // 12 pages would be over the limit: freed
  EXPECT_EQ(pool.free_bytes(), 8 * kPage);
  pool.Give(AlignedBuffer(2 * kPage));
  EXPECT_EQ(pool.free_bytes(), 10 * kPage);
  pool.Give(AlignedBuffer());  // empty buffers are not kept
  EXPECT_EQ(pool.free_bytes(), 10 * kPage);
}

}  // namespace
}  // namespace shuffle::storage
