#include "shuffle-server/storage/segment_store.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine_test_util.h"

namespace shuffle::storage {
namespace {

constexpr uint64_t kHandle = 9;

class SegmentStoreTest : public ::testing::Test {
 protected:
  SegmentStoreTest()
      : layout_({dir_.path() + "/d0", dir_.path() + "/d1"}),
        store_(Env::Default(), &layout_, /*direct_io=*/true) {
    for (uint32_t d = 0; d < 2; ++d) {
      std::filesystem::create_directories(layout_.ShufflesRoot(d));
    }
  }

  testing::TempDir dir_;
  DataLayout layout_;
  SegmentStore store_;
};

TEST_F(SegmentStoreTest, CreatesOneSegmentPerDirectoryAndAllocatesAlignedExtents) {
  ShuffleSegments segments;
  ASSERT_TRUE(store_.Create(kHandle, &segments).ok());
  ASSERT_EQ(segments.dirs(), 2u);
  for (uint32_t d = 0; d < 2; ++d) {
    EXPECT_TRUE(std::filesystem::exists(layout_.SegmentPath(d, kHandle)));
    EXPECT_GE(segments.file(d).ServeFd(), 0);
  }
  EXPECT_EQ(segments.Allocate(1, 100), 0u);
  EXPECT_EQ(segments.Allocate(1, kDirectIoAlignment), kDirectIoAlignment);
  EXPECT_EQ(segments.Allocate(1, 1), 2 * kDirectIoAlignment);
  EXPECT_EQ(segments.next_offset(1), 3 * kDirectIoAlignment);
  EXPECT_EQ(segments.next_offset(0), 0u);
  segments.Written(1, 4096);
  EXPECT_EQ(segments.written(1), 4096u);
}

TEST_F(SegmentStoreTest, RecoveryCutsWhatTheIndexDoesNotName) {
  {
    ShuffleSegments segments;
    ASSERT_TRUE(store_.Create(kHandle, &segments).ok());
  }
  std::filesystem::resize_file(layout_.SegmentPath(0, kHandle), 3 * kDirectIoAlignment);
  ShuffleSegments segments;
  uint64_t truncated = 0;
  ASSERT_TRUE(store_.Recover(kHandle, {kDirectIoAlignment, 0}, &segments, &truncated).ok());
  EXPECT_EQ(truncated, 2 * kDirectIoAlignment);
  EXPECT_EQ(std::filesystem::file_size(layout_.SegmentPath(0, kHandle)), kDirectIoAlignment);
  EXPECT_EQ(segments.next_offset(0), kDirectIoAlignment);
  EXPECT_EQ(segments.written(0), kDirectIoAlignment);
  // The next extent goes right after the indexed ones.
  EXPECT_EQ(segments.Allocate(0, 10), kDirectIoAlignment);
}

TEST_F(SegmentStoreTest, RemoveDeletesTheShuffleFromEveryDirectory) {
  ShuffleSegments segments;
  ASSERT_TRUE(store_.Create(kHandle, &segments).ok());
  ASSERT_TRUE(store_.Remove(kHandle).ok());
  EXPECT_FALSE(std::filesystem::exists(layout_.ShuffleDir(0, kHandle)));
  EXPECT_FALSE(std::filesystem::exists(layout_.ShuffleDir(1, kHandle)));
  EXPECT_TRUE(store_.Remove(kHandle).ok());  // idempotent
}

}  // namespace
}  // namespace shuffle::storage
