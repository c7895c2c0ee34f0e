#include "shuffle-server/sparkess/block_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "shuffle-server/sparkess/checksums.h"
#include "shuffle/core/coding.h"

namespace shuffle::sparkess {
namespace {

namespace fs = std::filesystem;

TEST(BlockFilesTest, JavaHashAndSparkPaths) {
  EXPECT_EQ(JavaStringHash("hello"), 99162322);  // "hello".hashCode() in Java
  EXPECT_EQ(JavaStringHash(""), 0);
  ExecutorShuffleInfo info{
      .local_dirs = {"/a", "/b"}, .sub_dirs_per_local_dir = 64, .shuffle_manager = "sort"};
  // hash("hello") = 99162322: dir 99162322 % 2 = 0, sub (99162322 / 2) % 64 = 41 = 0x29.
  EXPECT_EQ(BlockFilePath(info, "hello"), "/a/29/hello");
}

TEST(BlockFilesTest, OnlySparkNamesAreServable) {
  for (const char* ok : {"shuffle_0_1_0.data", "shuffle_12_345_0.index", "rdd_3_4",
                         "shuffle_1_2_0.checksum.CRC32C", "shuffle_1_2_0.checksum.ADLER32"}) {
    EXPECT_TRUE(IsServableFileName(ok)) << ok;
  }
  for (const char* bad :
       {"../x", "shuffle_0_1.data", "shuffle_a_1_0.data", "shuffle_0_1_0.data/..", "rdd_1",
        "rdd_1_2_3", "shuffle_0_1_0.checksum.", "shuffle_0_1_0.checksum.a/b", "shuffle_0_1_0.tmp",
        "", "rdd_1_2.data", "shuffle_-1_1_0.data"}) {
    EXPECT_FALSE(IsServableFileName(bad)) << bad;
  }
}

class BlockFilesFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sparkess-files-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "exec");
    info_ = {.local_dirs = {(root_ / "exec").string()},
             .sub_dirs_per_local_dir = 4,
             .shuffle_manager = "sort"};
    // Three partitions of 3, 0 and 5 bytes.
    Write("shuffle_1_7_0.data", "abcdefgh");
    std::string index;
    for (uint64_t off : {0, 3, 3, 8}) {
      core::PutBigEndian64(&index, off);
    }
    Write("shuffle_1_7_0.index", index);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& name, const std::string& bytes) {
    const fs::path path = BlockFilePath(info_, name);
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  fs::path root_;
  ExecutorShuffleInfo info_;
};

TEST_F(BlockFilesFileTest, RangesFromTheIndex) {
  auto files = BlockFiles::Open(root_.string());
  ASSERT_TRUE(files.ok()) << files.status();
  auto one = (*files)->ShuffleBlocks(info_, 1, 7, 0, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->offset, 0u);
  EXPECT_EQ(one->length, 3u);
  auto batch = (*files)->ShuffleBlocks(info_, 1, 7, 1, 3);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->offset, 3u);
  EXPECT_EQ(batch->length, 5u);
  EXPECT_EQ((*files)->ShuffleBlocks(info_, 1, 7, 2, 4).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*files)->ShuffleBlocks(info_, 1, 8, 0, 1).status().code(),
            absl::StatusCode::kNotFound);
  auto crc = SparkChecksum::Create("CRC32");
  ASSERT_TRUE(crc.has_value());
  EXPECT_EQ(ChecksumOf(*crc, *batch).value(),
            0x83E78239LL);  // java.util.zip.CRC32 of "defgh" (zlib.crc32)
  auto adler = SparkChecksum::Create("ADLER32");
  EXPECT_EQ(ChecksumOf(*adler, *batch).value(), 0x05F501FFLL);
  auto crc32c = SparkChecksum::Create("CRC32C");
  EXPECT_EQ(ChecksumOf(*crc32c, *one).value(), 0x364B3FB7LL);  // CRC-32C of "abc" (RFC 3720 check)
  EXPECT_FALSE(SparkChecksum::Create("MD5").has_value());
}

TEST_F(BlockFilesFileTest, SymlinksAndOutsidePathsAreRefused) {
  fs::create_directories(root_ / "other");
  fs::create_symlink(root_ / "exec", root_ / "other" / "link");
  ExecutorShuffleInfo via_link{.local_dirs = {(root_ / "other" / "link").string()},
                               .sub_dirs_per_local_dir = 4,
                               .shuffle_manager = "sort"};
  auto files = BlockFiles::Open((root_ / "other").string());
  ASSERT_TRUE(files.ok());
  EXPECT_FALSE((*files)->ShuffleBlocks(via_link, 1, 7, 0, 1).ok());
  EXPECT_EQ((*files)->ShuffleBlocks(info_, 1, 7, 0, 1).status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace shuffle::sparkess
