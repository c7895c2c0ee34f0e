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

namespace shuffle::storage {

// Field-wise equality for the tests; outside the unnamed namespace so argument-dependent lookup
// finds them from inside GoogleTest's matchers.
bool operator==(const BlockEntry& a, const BlockEntry& b) {
  return std::tie(a.map, a.attempt, a.epoch, a.seq, a.partition, a.length) ==
         std::tie(b.map, b.attempt, b.epoch, b.seq, b.partition, b.length);
}
bool operator==(const PartitionTotal& a, const PartitionTotal& b) {
  return std::tie(a.partition, a.bytes, a.blocks) == std::tie(b.partition, b.bytes, b.blocks);
}
bool operator==(const ShuffleRecord& a, const ShuffleRecord& b) {
  return std::tie(a.handle, a.app_id, a.namespace_name, a.shuffle_id, a.num_partitions,
                  a.created_unix_ms) == std::tie(b.handle, b.app_id, b.namespace_name, b.shuffle_id,
                                                 b.num_partitions, b.created_unix_ms);
}
bool operator==(const ExtentRecord& a, const ExtentRecord& b) {
  return std::tie(a.handle, a.partition, a.dir, a.offset, a.length, a.blocks) ==
         std::tie(b.handle, b.partition, b.dir, b.offset, b.length, b.blocks);
}
bool operator==(const CommitRecord& a, const CommitRecord& b) {
  return std::tie(a.handle, a.map, a.attempt, a.epoch, a.num_partitions, a.partitions) ==
         std::tie(b.handle, b.map, b.attempt, b.epoch, b.num_partitions, b.partitions);
}
bool operator==(const LogRecord& a, const LogRecord& b) {
  return std::tie(a.handle, a.dir, a.log_no, a.offset, a.length, a.blocks) ==
         std::tie(b.handle, b.dir, b.log_no, b.offset, b.length, b.blocks);
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kBig = (uint64_t{1} << 32) + 12345;  // An offset beyond 2^32.

ShuffleRecord MakeShuffle(uint64_t handle) {
  ShuffleRecord r;
  r.handle = handle;
  r.app_id = "app-" + std::to_string(handle);
  r.namespace_name = "ns";
  r.shuffle_id = static_cast<uint32_t>(handle * 3 + 1);
  r.num_partitions = 1000;
  r.created_unix_ms = 1700000000123 + handle;
  return r;
}

ExtentRecord MakeExtent(uint64_t handle, uint32_t partition, uint32_t dir, uint64_t offset) {
  ExtentRecord r;
  r.handle = handle;
  r.partition = partition;
  r.dir = dir;
  r.offset = offset;
  r.blocks = {{.map = 1, .attempt = 2, .epoch = 3, .seq = 4, .partition = partition, .length = 100},
              {.map = 0xffffffff,
               .attempt = 7,
               .epoch = 9,
               .seq = 0x12345678,
               .partition = partition,
               .length = 23}};
  r.length = 123;
  return r;
}

CommitRecord MakeCommit(uint64_t handle, uint32_t map) {
  CommitRecord r;
  r.handle = handle;
  r.map = map;
  r.attempt = 3;
  r.epoch = 5;
  r.num_partitions = 1000;
  r.partitions = {{.partition = 0, .bytes = kBig, .blocks = 4},
                  {.partition = 999, .bytes = 17, .blocks = 1}};
  return r;
}

LogRecord MakeLog(uint64_t handle, uint32_t dir, uint32_t log_no, uint64_t offset) {
  LogRecord r;
  r.handle = handle;
  r.dir = dir;
  r.log_no = log_no;
  r.offset = offset;
  r.blocks = {{.map = 8, .attempt = 1, .epoch = 2, .seq = 0, .partition = 5, .length = 4096}};
  r.length = 4096;
  return r;
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "index_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/index";
    Reopen();
  }

  void TearDown() override {
    index_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

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

// ---- Codec ------------------------------------------------------------------------------------

namespace codec = index_codec;

TEST(IndexCodecTest, KeysAreBigEndianWithTag) {
  EXPECT_EQ(codec::ShuffleKey(0x0102030405060708),
            std::string("S\x01\x02\x03\x04\x05\x06\x07\x08"));
  const std::string extent = codec::ExtentKey(1, 2, 3, 4);
  ASSERT_EQ(extent.size(), 25u);
  EXPECT_EQ(extent[0], 'E');
  EXPECT_EQ(extent[8], 1);
  EXPECT_EQ(extent[12], 2);
  EXPECT_EQ(extent[16], 3);
  EXPECT_EQ(extent[24], 4);
  EXPECT_EQ(codec::CommitKey(1, 2).size(), 13u);
  EXPECT_EQ(codec::LogKey(1, 2, 3, 4).size(), 25u);
  EXPECT_EQ(codec::MetaKey("epoch"), "Mepoch");
  EXPECT_LT(codec::ExtentKey(1, 255, 0, 0), codec::ExtentKey(1, 256, 0, 0));
  EXPECT_LT(codec::ExtentKey(1, 0, 0, 0xffffffff), codec::ExtentKey(1, 0, 0, kBig));
}

TEST(IndexCodecTest, PrefixSuccessor) {
  EXPECT_EQ(codec::PrefixSuccessor("E"), "F");
  EXPECT_EQ(codec::PrefixSuccessor(std::string("E\x01\xff\xff", 4)), "E\x02");
  EXPECT_EQ(codec::PrefixSuccessor(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(codec::PrefixSuccessor(""), "");
}

TEST(IndexCodecTest, RecordsRoundTrip) {
  const ShuffleRecord shuffle = MakeShuffle(3);
  EXPECT_EQ(*codec::DecodeShuffle(codec::ShuffleKey(3), codec::EncodeShuffle(shuffle)), shuffle);
  const ExtentRecord extent = MakeExtent(3, 4, 5, kBig);
  EXPECT_EQ(*codec::DecodeExtent(codec::ExtentKey(3, 4, 5, kBig), codec::EncodeExtent(extent)),
            extent);
  EXPECT_EQ(codec::EncodeExtent(extent).size(), 1 + 8 + 4 + 2 * codec::kBlockEntrySize);
  const CommitRecord commit = MakeCommit(3, 8);
  EXPECT_EQ(*codec::DecodeCommit(codec::CommitKey(3, 8), codec::EncodeCommit(commit)), commit);
  const LogRecord log = MakeLog(3, 1, 2, kBig);
  EXPECT_EQ(*codec::DecodeLog(codec::LogKey(3, 1, 2, kBig), codec::EncodeLog(log)), log);
  EXPECT_EQ(*codec::DecodeEpoch(codec::EncodeEpoch(77)), 77u);
  EXPECT_EQ(*codec::DecodeNextHandle(codec::EncodeNextHandle(kBig)), kBig);
}

// Every strict prefix of a valid value is truncated; every value with bytes appended is overlong.
template <typename Decode>
void ExpectRejectsDamage(const std::string& value, Decode decode, const std::string& what) {
  for (size_t n = 0; n < value.size(); ++n) {
    absl::Status status = decode(value.substr(0, n));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << what << " prefix " << n;
    EXPECT_THAT(status.message(), HasSubstr("index: corrupt " + what)) << n;
    EXPECT_THAT(status.message(), HasSubstr("truncated")) << n;
  }
  absl::Status status = decode(value + "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << what;
  EXPECT_THAT(status.message(), HasSubstr("overlong"));
  std::string bad_version = value;
  bad_version[0] = 2;
  status = decode(bad_version);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << what;
  EXPECT_THAT(status.message(), HasSubstr("unsupported format version 2"));
  EXPECT_THAT(status.message(), HasSubstr(what));
}

TEST(IndexCodecTest, RejectsTruncatedOverlongAndUnknownVersion) {
  ExpectRejectsDamage(
      codec::EncodeShuffle(MakeShuffle(7)),
      [](const std::string& v) { return codec::DecodeShuffle(codec::ShuffleKey(7), v).status(); },
      "shuffle record for shuffle 7");
  ExpectRejectsDamage(
      codec::EncodeExtent(MakeExtent(7, 3, 1, 8)),
      [](const std::string& v) {
        return codec::DecodeExtent(codec::ExtentKey(7, 3, 1, 8), v).status();
      },
      "extent record for shuffle 7 partition 3");
  ExpectRejectsDamage(
      codec::EncodeCommit(MakeCommit(7, 2)),
      [](const std::string& v) { return codec::DecodeCommit(codec::CommitKey(7, 2), v).status(); },
      "commit record for shuffle 7 map 2");
  ExpectRejectsDamage(
      codec::EncodeLog(MakeLog(7, 1, 4, 9)),
      [](const std::string& v) { return codec::DecodeLog(codec::LogKey(7, 1, 4, 9), v).status(); },
      "log record for shuffle 7 dir 1 log 4");
  ExpectRejectsDamage(
      codec::EncodeEpoch(5), [](const std::string& v) { return codec::DecodeEpoch(v).status(); },
      "metadata \"epoch\"");
  ExpectRejectsDamage(
      codec::EncodeNextHandle(5),
      [](const std::string& v) { return codec::DecodeNextHandle(v).status(); },
      "metadata \"next_handle\"");
}

TEST(IndexCodecTest, RejectsHugeCountWithoutAllocating) {
  std::string value = codec::EncodeExtent(MakeExtent(1, 2, 0, 0));
  // Overwrite the block count (after version and length) with 2^32-1.
  value.replace(9, 4, "\xff\xff\xff\xff");
  absl::Status status = codec::DecodeExtent(codec::ExtentKey(1, 2, 0, 0), value).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("truncated"));

  std::string shuffle = codec::EncodeShuffle(MakeShuffle(1));
  shuffle.replace(1, 4, "\xff\xff\xff\x7f");  // app_id length
  status = codec::DecodeShuffle(codec::ShuffleKey(1), shuffle).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
}

TEST(IndexCodecTest, RejectsMalformedKeys) {
  const std::string value = codec::EncodeExtent(MakeExtent(1, 2, 0, 0));
  absl::Status status = codec::DecodeExtent("E\x01", value).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("corrupt extent key"));
  EXPECT_EQ(codec::DecodeExtent(codec::LogKey(1, 2, 0, 0), value).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(codec::DecodeShuffle("S", codec::EncodeShuffle(MakeShuffle(1))).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(codec::DecodeCommit("C", codec::EncodeCommit(MakeCommit(1, 1))).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(codec::DecodeLog("L", codec::EncodeLog(MakeLog(1, 1, 1, 1))).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shuffle::storage
