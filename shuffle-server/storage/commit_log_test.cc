#include "shuffle-server/storage/commit_log.h"

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine_test_util.h"

namespace shuffle::storage {
namespace {

constexpr uint64_t kHandle = 3;  // with two data dirs, its log lies in dir 1

class CommitLogTest : public ::testing::Test {
 protected:
  CommitLogTest() : layout_({dir_.path() + "/d0", dir_.path() + "/d1"}) {
    for (uint32_t d = 0; d < 2; ++d) {
      std::filesystem::create_directories(layout_.ShuffleDir(d, kHandle));
    }
  }
  bool Exists(uint32_t log_no) {
    return std::filesystem::exists(layout_.LogPath(1, kHandle, log_no));
  }

  testing::TempDir dir_;
  DataLayout layout_;
  Env& env_ = *Env::Default();
};

TEST_F(CommitLogTest, RegionsFollowEachOtherAndRotateAtTheFileSize) {
  CommitLog log;
  ASSERT_TRUE(log.Create(env_, layout_, kHandle).ok());
  EXPECT_EQ(log.dir(), 1u);
  EXPECT_TRUE(Exists(0));
  CommitLog::Reservation a = log.Reserve(env_, layout_, kHandle, 600, 1000);
  CommitLog::Reservation b = log.Reserve(env_, layout_, kHandle, 300, 1000);
  EXPECT_EQ(a.region->offset, 0u);
  EXPECT_EQ(b.region->offset, 600u);
  EXPECT_FALSE(a.needs_dir_sync);  // commit-0.log's entry was synced at registration
  EXPECT_FALSE(b.needs_dir_sync);
  EXPECT_EQ(a.file, b.file);
  CommitLog::Reservation c = log.Reserve(env_, layout_, kHandle, 200, 1000);  // 1100 > 1000
  EXPECT_TRUE(c.needs_dir_sync);  // a rotation created commit-1.log
  EXPECT_EQ(c.region->log_no, 1u);
  EXPECT_EQ(c.region->offset, 0u);
  EXPECT_TRUE(Exists(1));
  EXPECT_EQ(log.current(), 1u);
  // Until a directory sync succeeds, every region in the new file asks for one.
  EXPECT_TRUE(log.Reserve(env_, layout_, kHandle, 100, 1000).needs_dir_sync);
  log.DirSynced(1);
  EXPECT_FALSE(log.Reserve(env_, layout_, kHandle, 100, 1000).needs_dir_sync);
  // A region larger than a file still fits: a fresh file takes it whole.
  CommitLog::Reservation d = log.Reserve(env_, layout_, kHandle, 5000, 1000);
  EXPECT_TRUE(d.needs_dir_sync);
  EXPECT_EQ(d.region->log_no, 2u);
  EXPECT_EQ(d.region->offset, 0u);
  log.DirSynced(1);  // an older file's sync says nothing about the current one
  EXPECT_TRUE(log.Reserve(env_, layout_, kHandle, 1, 10000).needs_dir_sync);
}

TEST_F(CommitLogTest, FilesWithoutLiveRegionsAreDeadOnceNotCurrent) {
  CommitLog log;
  ASSERT_TRUE(log.Create(env_, layout_, kHandle).ok());
  CommitLog::Reservation a = log.Reserve(env_, layout_, kHandle, 600, 1000);
  log.Unreserve(a.region->log_no);  // its round is over
  log.Committed(*a.region, 600);
  CommitLog::Reservation b = log.Reserve(env_, layout_, kHandle, 600, 1000);  // rotates
  log.Unreserve(b.region->log_no);
  log.Committed(*b.region, 600);
  EXPECT_EQ(log.files(), 2u);
  EXPECT_EQ(log.bytes(), 1200u);
  EXPECT_TRUE(log.TakeDeadFiles().empty());  // file 0 holds a live region
  log.Retired(*a.region);
  EXPECT_EQ(log.TakeDeadFiles(), std::vector<uint32_t>{0});
  EXPECT_EQ(log.files(), 1u);
  EXPECT_EQ(log.bytes(), 600u);
  log.Retired(*b.region);
  EXPECT_TRUE(log.TakeDeadFiles().empty());  // the current file stays
}

TEST_F(CommitLogTest, AReservedRegionKeepsItsFileUntilItsRoundIsOver) {
  // Overlapping rounds: a round may reserve a region in a file that an earlier round then finds
  // without live regions.
  CommitLog log;
  ASSERT_TRUE(log.Create(env_, layout_, kHandle).ok());
  CommitLog::Reservation a = log.Reserve(env_, layout_, kHandle, 600, 1000);
  CommitLog::Reservation b = log.Reserve(env_, layout_, kHandle, 600, 1000);  // rotates
  EXPECT_EQ(b.region->log_no, 1u);
  EXPECT_TRUE(log.TakeDeadFiles().empty());  // file 0: no live region, but a reserved one
  EXPECT_TRUE(Exists(0));
  log.Unreserve(a.region->log_no);  // a's commit failed: nothing names the region
  EXPECT_EQ(log.TakeDeadFiles(), std::vector<uint32_t>{0});
}

TEST_F(CommitLogTest, RecoveryCutsTailsDeletesDeadFilesAndStartsANewFile) {
  {
    CommitLog log;
    ASSERT_TRUE(log.Create(env_, layout_, kHandle).ok());
    (void)log.Reserve(env_, layout_, kHandle, 600, 1000);
    (void)log.Reserve(env_, layout_, kHandle, 600, 1000);  // commit-1.log
  }
  std::filesystem::resize_file(layout_.LogPath(1, kHandle, 0), 900);
  std::filesystem::resize_file(layout_.LogPath(1, kHandle, 1), 700);
  CommitLog log;
  auto file = log.OpenForReplay(env_, layout_, kHandle, 1, 0);
  ASSERT_TRUE(file.ok()) << file.status();
  log.Replayed(0, 600);  // the live region of file 0 ends at 600; file 1 has none
  uint64_t truncated = 0;
  ASSERT_TRUE(log.FinishRecovery(env_, layout_, kHandle, &truncated).ok());
  EXPECT_EQ(truncated, 300u);
  EXPECT_EQ(std::filesystem::file_size(layout_.LogPath(1, kHandle, 0)), 600u);
  EXPECT_FALSE(Exists(1));
  EXPECT_TRUE(Exists(2));
  EXPECT_EQ(log.current(), 2u);
  EXPECT_EQ(log.bytes(), 600u);
  EXPECT_FALSE(log.OpenForReplay(env_, layout_, kHandle, 1, 7).ok());  // named but missing
}

}  // namespace
}  // namespace shuffle::storage
