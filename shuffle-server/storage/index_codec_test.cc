#include "shuffle-server/storage/index_codec.h"

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

namespace shuffle::storage {
namespace {

using ::testing::HasSubstr;

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
  bad_version[0] = 9;
  status = decode(bad_version);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << what;
  EXPECT_THAT(status.message(), HasSubstr("unsupported format version 9"));
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

TEST(IndexCodecTest, ShuffleRecordsKeepSealedAndVersionOneStillReads) {
  ShuffleRecord sealed = MakeShuffle(4);
  sealed.sealed = true;
  const std::string value = codec::EncodeShuffle(sealed);
  EXPECT_EQ(value[0], 2);
  EXPECT_EQ(*codec::DecodeShuffle(codec::ShuffleKey(4), value), sealed);
  // Version 1 (written before the flags byte existed): the same fields, never sealed.
  std::string v1 = value.substr(0, value.size() - 1);
  v1[0] = 1;
  absl::StatusOr<ShuffleRecord> old = codec::DecodeShuffle(codec::ShuffleKey(4), v1);
  ASSERT_TRUE(old.ok()) << old.status();
  sealed.sealed = false;
  EXPECT_EQ(*old, sealed);
  // A version-1 value with a flags byte is overlong.
  EXPECT_THAT(codec::DecodeShuffle(codec::ShuffleKey(4), v1 + '\x01').status().message(),
              HasSubstr("overlong"));
  std::string v0 = value;
  v0[0] = 0;
  EXPECT_THAT(codec::DecodeShuffle(codec::ShuffleKey(4), v0).status().message(),
              HasSubstr("unsupported format version 0 (this build reads 1 to 2)"));
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
