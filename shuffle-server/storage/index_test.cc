#include "shuffle-server/storage/index.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include <sys/wait.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shuffle-server/storage/index_codec.h"
#include "shuffle-server/storage/index_test_util.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    path_ = dir_ + "/index";
    Reopen();
  }

  void TearDown() override { index_.reset(); }  // before tmp_ removes its files

  void Reopen() {
    index_.reset();
    absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(path_);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(index).value();
  }

  std::vector<ShuffleRecord> Shuffles() {
    std::vector<ShuffleRecord> out;
    EXPECT_TRUE(index_
                    ->ForEachShuffle([&](const ShuffleRecord& r) {
                      out.push_back(r);
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }
  std::vector<ExtentRecord> Extents(uint64_t handle) {
    std::vector<ExtentRecord> out;
    EXPECT_TRUE(index_
                    ->ForEachExtent(handle,
                                    [&](const ExtentRecord& r) {
                                      out.push_back(r);
                                      return absl::OkStatus();
                                    })
                    .ok());
    return out;
  }
  std::vector<CommitRecord> Commits(uint64_t handle) {
    std::vector<CommitRecord> out;
    EXPECT_TRUE(index_
                    ->ForEachCommit(handle,
                                    [&](const CommitRecord& r) {
                                      out.push_back(r);
                                      return absl::OkStatus();
                                    })
                    .ok());
    return out;
  }
  std::vector<LogRecord> Logs(uint64_t handle) {
    std::vector<LogRecord> out;
    EXPECT_TRUE(index_
                    ->ForEachLog(handle,
                                 [&](const LogRecord& r) {
                                   out.push_back(r);
                                   return absl::OkStatus();
                                 })
                    .ok());
    return out;
  }

  // Populates every record kind of `handle`.
  void PopulateShuffle(uint64_t handle) {
    Index::Batch batch;
    batch.PutShuffle(MakeShuffle(handle));
    batch.PutExtent(MakeExtent(handle, 0, 0, 0));
    batch.PutExtent(MakeExtent(handle, 7, 1, kBig));
    batch.PutCommit(MakeCommit(handle, 0));
    batch.PutCommit(MakeCommit(handle, 4));
    batch.PutLog(MakeLog(handle, 0, 1, 0));
    batch.PutLog(MakeLog(handle, 1, 2, kBig));
    ASSERT_TRUE(index_->Write(batch, /*sync=*/false).ok());
  }

  testsupport::TempDir tmp_{"index_test."};
  std::string dir_;
  std::string path_;
  std::unique_ptr<Index> index_;
};

TEST_F(IndexTest, EveryRecordKindRoundTripsThroughReopen) {
  const ShuffleRecord shuffle = MakeShuffle(42);
  const ExtentRecord extent = MakeExtent(42, 3, 2, kBig);
  const CommitRecord commit = MakeCommit(42, 0xfffffffe);
  const LogRecord log = MakeLog(42, 1, 77, kBig);
  ExtentRecord empty_extent = MakeExtent(42, 4, 0, 0);
  empty_extent.blocks.clear();
  empty_extent.length = 0;
  {
    Index::Batch batch;
    batch.PutShuffle(shuffle);
    batch.PutExtent(extent);
    batch.PutExtent(empty_extent);
    batch.PutCommit(commit);
    batch.PutLog(log);
    batch.PutEpoch(0xdeadbeef);
    batch.PutNextHandle(kBig);
    ASSERT_TRUE(index_->Write(batch, /*sync=*/true).ok());
  }
  Reopen();
  EXPECT_THAT(Shuffles(), ElementsAre(shuffle));
  EXPECT_THAT(Extents(42), ElementsAre(extent, empty_extent));
  EXPECT_THAT(Commits(42), ElementsAre(commit));
  EXPECT_THAT(Logs(42), ElementsAre(log));
  EXPECT_EQ(*index_->LoadEpoch(), 0xdeadbeefu);
  EXPECT_EQ(*index_->LoadNextHandle(), kBig);

  // And again after a flush, so the records are read back from SST files rather than the WAL.
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  EXPECT_THAT(Shuffles(), ElementsAre(shuffle));
  EXPECT_THAT(Extents(42), ElementsAre(extent, empty_extent));
  EXPECT_THAT(Commits(42), ElementsAre(commit));
  EXPECT_THAT(Logs(42), ElementsAre(log));
}

TEST_F(IndexTest, ScanExtentsReturnsPartitionRangeInNumericOrder) {
  // Values chosen so little-endian or string order would differ from numeric order.
  const uint64_t handle = 256;
  Index::Batch batch;
  batch.PutExtent(MakeExtent(handle, 256, 0, 0));
  batch.PutExtent(MakeExtent(handle, 255, 1, 5));
  batch.PutExtent(MakeExtent(handle, 255, 0, kBig));
  batch.PutExtent(MakeExtent(handle, 255, 0, 4096));
  batch.PutExtent(MakeExtent(handle, 1, 0, 0));
  batch.PutExtent(MakeExtent(handle, 65536, 0, 0));
  batch.PutExtent(MakeExtent(handle, 257, 0, 0));
  batch.PutExtent(MakeExtent(handle - 1, 255, 0, 0));  // Neighbouring handles.
  batch.PutExtent(MakeExtent(handle + 1, 256, 0, 0));
  batch.PutExtent(MakeExtent(1, 256, 0, 0));  // 1 vs 256: same low byte order in LE.
  ASSERT_TRUE(index_->Write(batch, /*sync=*/false).ok());

  absl::StatusOr<std::vector<ExtentRecord>> got = index_->ScanExtents(handle, 255, 257);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre(MakeExtent(handle, 255, 0, 4096), MakeExtent(handle, 255, 0, kBig),
                                MakeExtent(handle, 255, 1, 5), MakeExtent(handle, 256, 0, 0)));

  got = index_->ScanExtents(handle, 0, 0xffffffff);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 7u);
  EXPECT_EQ((*got)[0], MakeExtent(handle, 1, 0, 0));
  EXPECT_EQ((*got)[5], MakeExtent(handle, 257, 0, 0));
  EXPECT_EQ((*got)[6], MakeExtent(handle, 65536, 0, 0));
  EXPECT_EQ(Extents(handle), *got);

  got = index_->ScanExtents(handle, 2, 255);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, IsEmpty());
  got = index_->ScanExtents(handle, 256, 256);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, IsEmpty());
  got = index_->ScanExtents(handle, 300, 200);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, IsEmpty());
  got = index_->ScanExtents(1, 256, 257);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, ElementsAre(MakeExtent(1, 256, 0, 0)));
}

TEST_F(IndexTest, ForEachSeesOnlyItsOwnHandle) {
  for (uint64_t h : {uint64_t{255}, uint64_t{256}, uint64_t{257}}) {
    PopulateShuffle(h);
  }
  EXPECT_THAT(Extents(256), ElementsAre(MakeExtent(256, 0, 0, 0), MakeExtent(256, 7, 1, kBig)));
  EXPECT_THAT(Commits(256), ElementsAre(MakeCommit(256, 0), MakeCommit(256, 4)));
  EXPECT_THAT(Logs(256), ElementsAre(MakeLog(256, 0, 1, 0), MakeLog(256, 1, 2, kBig)));
  EXPECT_THAT(Shuffles(), ElementsAre(MakeShuffle(255), MakeShuffle(256), MakeShuffle(257)));
  EXPECT_THAT(Extents(258), IsEmpty());
  EXPECT_THAT(Commits(0), IsEmpty());
}

TEST_F(IndexTest, ExtremeHandlesStayApart) {
  const uint64_t max = UINT64_MAX;
  PopulateShuffle(0);
  PopulateShuffle(max);
  PopulateShuffle(max - 1);
  EXPECT_EQ(Extents(max).size(), 2u);
  EXPECT_EQ(Logs(max).size(), 2u);
  Index::Batch batch;
  batch.DeleteShuffle(max);
  ASSERT_TRUE(index_->Write(batch, /*sync=*/false).ok());
  EXPECT_THAT(Extents(max), IsEmpty());
  EXPECT_THAT(Commits(max), IsEmpty());
  EXPECT_EQ(Extents(max - 1).size(), 2u);
  EXPECT_EQ(Commits(0).size(), 2u);
  EXPECT_THAT(Shuffles(), ElementsAre(MakeShuffle(0), MakeShuffle(max - 1)));
  // The metadata keys sort after the 'L' range; deleting must not have touched them either.
  EXPECT_EQ(*index_->LoadEpoch(), 0u);
}

TEST_F(IndexTest, DeleteShuffleRemovesOnlyThatShuffle) {
  for (uint64_t h : {uint64_t{9}, uint64_t{10}, uint64_t{11}}) {
    PopulateShuffle(h);
  }
  {
    Index::Batch batch;
    batch.PutEpoch(3);
    batch.DeleteShuffle(10);
    EXPECT_EQ(batch.count(), 5u);  // One put, one delete, three range deletes.
    ASSERT_TRUE(index_->Write(batch, /*sync=*/true).ok());
  }
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_THAT(Shuffles(), ElementsAre(MakeShuffle(9), MakeShuffle(11)));
    EXPECT_THAT(Extents(10), IsEmpty());
    EXPECT_THAT(Commits(10), IsEmpty());
    EXPECT_THAT(Logs(10), IsEmpty());
    absl::StatusOr<std::vector<ExtentRecord>> got = index_->ScanExtents(10, 0, 1000);
    ASSERT_TRUE(got.ok());
    EXPECT_THAT(*got, IsEmpty());
    for (uint64_t h : {uint64_t{9}, uint64_t{11}}) {
      EXPECT_EQ(Extents(h).size(), 2u);
      EXPECT_EQ(Commits(h).size(), 2u);
      EXPECT_EQ(Logs(h).size(), 2u);
    }
    EXPECT_EQ(*index_->LoadEpoch(), 3u);
    Reopen();
  }
  // The handle may not be reused by the engine, but the index itself allows it.
  PopulateShuffle(10);
  EXPECT_EQ(Extents(10).size(), 2u);
}

TEST_F(IndexTest, DeleteLogRemovesOneRegion) {
  PopulateShuffle(5);
  PopulateShuffle(6);
  Index::Batch batch;
  batch.DeleteLog(5, 1, 2, kBig);
  batch.DeleteLog(5, 9, 9, 9);  // Absent: no error.
  ASSERT_TRUE(index_->Write(batch, /*sync=*/true).ok());
  Reopen();
  EXPECT_THAT(Logs(5), ElementsAre(MakeLog(5, 0, 1, 0)));
  EXPECT_EQ(Logs(6).size(), 2u);
  EXPECT_EQ(Extents(5).size(), 2u);
}

TEST_F(IndexTest, MetadataDefaultsToZeroAndPersists) {
  EXPECT_EQ(*index_->LoadEpoch(), 0u);
  EXPECT_EQ(*index_->LoadNextHandle(), 0u);
  Index::Batch batch;
  batch.PutEpoch(1);
  batch.PutNextHandle(UINT64_MAX);
  ASSERT_TRUE(index_->Write(batch, /*sync=*/true).ok());
  Reopen();
  EXPECT_EQ(*index_->LoadEpoch(), 1u);
  EXPECT_EQ(*index_->LoadNextHandle(), UINT64_MAX);
  Index::Batch next;
  next.PutEpoch(2);
  ASSERT_TRUE(index_->Write(next, /*sync=*/false).ok());
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  EXPECT_EQ(*index_->LoadEpoch(), 2u);
  EXPECT_EQ(*index_->LoadNextHandle(), UINT64_MAX);
  // Metadata is not a shuffle.
  EXPECT_THAT(Shuffles(), IsEmpty());
}

TEST_F(IndexTest, BatchIsAppliedWhole) {
  Index::Batch batch;
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.count(), 0u);
  batch.PutShuffle(MakeShuffle(1));
  batch.PutExtent(MakeExtent(1, 0, 0, 0));
  batch.PutCommit(MakeCommit(1, 0));
  batch.PutLog(MakeLog(1, 0, 0, 0));
  batch.PutNextHandle(2);
  EXPECT_FALSE(batch.empty());
  EXPECT_EQ(batch.count(), 5u);
  // Nothing is visible before the write.
  EXPECT_THAT(Shuffles(), IsEmpty());
  ASSERT_TRUE(index_->Write(batch, /*sync=*/true).ok());
  EXPECT_THAT(Shuffles(), ElementsAre(MakeShuffle(1)));
  EXPECT_THAT(Extents(1), ElementsAre(MakeExtent(1, 0, 0, 0)));
  EXPECT_THAT(Commits(1), ElementsAre(MakeCommit(1, 0)));
  EXPECT_THAT(Logs(1), ElementsAre(MakeLog(1, 0, 0, 0)));
  EXPECT_EQ(*index_->LoadNextHandle(), 2u);
  // A later put of the same key replaces the record.
  Index::Batch replace;
  CommitRecord commit = MakeCommit(1, 0);
  commit.attempt = 9;
  replace.PutCommit(commit);
  ASSERT_TRUE(index_->Write(replace, /*sync=*/false).ok());
  EXPECT_THAT(Commits(1), ElementsAre(commit));
}

TEST_F(IndexTest, EmptyBatchWriteIsOk) {
  Index::Batch batch;
  EXPECT_TRUE(index_->Write(batch, /*sync=*/false).ok());
  EXPECT_TRUE(index_->Write(batch, /*sync=*/true).ok());
  EXPECT_TRUE(batch.empty());
}

TEST_F(IndexTest, CallbackErrorStopsIteration) {
  PopulateShuffle(1);
  PopulateShuffle(2);
  PopulateShuffle(3);
  int calls = 0;
  absl::Status status = index_->ForEachShuffle([&](const ShuffleRecord&) {
    ++calls;
    return absl::AbortedError("stop here");
  });
  EXPECT_EQ(status, absl::AbortedError("stop here"));
  EXPECT_EQ(calls, 1);

  calls = 0;
  status = index_->ForEachExtent(2, [&](const ExtentRecord&) {
    return ++calls == 2 ? absl::CancelledError("second") : absl::OkStatus();
  });
  EXPECT_EQ(status, absl::CancelledError("second"));
  EXPECT_EQ(calls, 2);

  calls = 0;
  status = index_->ForEachCommit(2, [&](const CommitRecord&) {
    ++calls;
    return absl::InternalError("commit");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(calls, 1);

  calls = 0;
  status = index_->ForEachLog(2, [&](const LogRecord&) {
    ++calls;
    return absl::NotFoundError("log");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
}

TEST_F(IndexTest, SecondOpenOfSamePathFails) {
  absl::StatusOr<std::unique_ptr<Index>> second = Index::Open(path_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr("is another shuffle-server using " + path_ + "?"));
  // The first stays usable, and the path opens again once it is closed.
  PopulateShuffle(1);
  Reopen();
  EXPECT_EQ(Extents(1).size(), 2u);
}

// The production case: another process (another shuffle-server) holds the database's lock.
TEST_F(IndexTest, OpenLockedByAnotherProcessFails) {
  index_.reset();
  int locked[2];
  int release[2];
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(release), 0);
  const std::string lock_file = path_ + "/LOCK";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls: lock the file as RocksDB does, report, wait for the parent
    // to write or exit, exit.
    close(locked[0]);
    close(release[1]);
    const int fd = open(lock_file.c_str(), O_RDWR);
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    const char ok = (fd >= 0 && fcntl(fd, F_SETLK, &lock) == 0) ? 1 : 0;
    (void)!write(locked[1], &ok, 1);
    char byte;
    (void)!read(release[0], &byte, 1);
    _exit(0);
  }
  close(locked[1]);
  close(release[0]);
  char ok = 0;
  ASSERT_EQ(read(locked[0], &ok, 1), 1);
  EXPECT_EQ(ok, 1);
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(path_);
  EXPECT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), absl::StatusCode::kFailedPrecondition) << index.status();
  EXPECT_THAT(index.status().message(),
              HasSubstr("is another shuffle-server using " + path_ + "?"));
  ASSERT_EQ(write(release[1], "x", 1), 1);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  close(locked[0]);
  close(release[1]);
  Reopen();  // The lock died with the child.
}

TEST_F(IndexTest, OpenOfUnusablePathFails) {
  const std::string file = dir_ + "/plain-file";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(file + "/index");
  ASSERT_FALSE(index.ok());
  EXPECT_THAT(index.status().message(), HasSubstr(file));
}

TEST_F(IndexTest, SmallOptionsWork) {
  index_.reset();
  IndexOptions options;
  options.block_cache_bytes = 1 << 20;
  options.write_buffer_bytes = 64 << 10;
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(path_, options);
  ASSERT_TRUE(index.ok()) << index.status();
  index_ = std::move(index).value();
  // Enough data to fill several write buffers.
  for (uint32_t p = 0; p < 200; ++p) {
    Index::Batch batch;
    ExtentRecord extent = MakeExtent(7, p, 0, 0);
    extent.blocks.resize(100);
    batch.PutExtent(extent);
    ASSERT_TRUE(index_->Write(batch, /*sync=*/false).ok());
  }
  Reopen();
  absl::StatusOr<std::vector<ExtentRecord>> got = index_->ScanExtents(7, 10, 20);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 10u);
  EXPECT_EQ((*got)[0].partition, 10u);
  EXPECT_EQ((*got)[0].blocks.size(), 100u);
}

}  // namespace
}  // namespace shuffle::storage
