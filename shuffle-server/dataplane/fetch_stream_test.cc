// StreamFetch: a FetchPlan becomes kFetchData frames cut at block boundaries whose payloads are
// exactly the blocks' bytes (ranges split across frames and frames spanning several ranges), then
// a kFetchEnd with the totals; the frames keep the plan's files alive.
#include "shuffle-server/dataplane/fetch_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/proto/data.pb.h"
#include "tests/support/temp_dir.h"

namespace shuffle::dataplane {
namespace {

using core::FrameType;

class CollectingWriter : public ResponseWriter {
 public:
  absl::Status Send(OutFrame frame) override {
    frames.push_back(std::move(frame));
    return absl::OkStatus();
  }
  absl::Status SendWithBackpressure(OutFrame frame) override {
    ++with_backpressure;
    return Send(std::move(frame));
  }
  const std::string& peer() const override { return peer_; }

  std::vector<OutFrame> frames;
  int with_backpressure = 0;

 private:
  const std::string peer_ = "test:0";
};

core::Frame Decode(const OutFrame& out) {
  absl::StatusOr<std::string> bytes = out.Flatten();
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  core::FrameDecoder decoder;
  decoder.Append(bytes.value_or(""));
  absl::StatusOr<std::optional<core::Frame>> frame = decoder.Next();
  EXPECT_TRUE(frame.ok() && frame->has_value()) << "not one whole frame";
  EXPECT_EQ(decoder.buffered(), 0u);
  return frame.ok() && frame->has_value() ? **frame : core::Frame();
}

class FetchStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    content_.resize(64 << 10);
    for (size_t i = 0; i < content_.size(); ++i) {
      content_[i] = static_cast<char>('a' + (i * 7) % 26);
    }
    const std::string path = dir_.path() + "/segment";
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(write(fd_, content_.data(), content_.size()), static_cast<ssize_t>(content_.size()));
  }
  void TearDown() override { close(fd_); }

  // Appends a block of `length` bytes at `offset` of the file, merging its range with the last
  // one when they touch (as BuildFetchPlan does).
  void AddBlock(uint64_t offset, uint32_t length) {
    const auto seq = static_cast<uint32_t>(plan_.blocks.size());
    plan_.blocks.push_back(storage::BlockEntry{
        .map = seq, .attempt = 0, .epoch = 1, .seq = seq, .partition = 2, .length = length});
    expected_.push_back(content_.substr(offset, length));
    plan_.bytes += length;
    if (!plan_.ranges.empty() &&
        plan_.ranges.back().offset + plan_.ranges.back().length == offset) {
      plan_.ranges.back().length += length;
    } else {
      plan_.ranges.push_back(storage::FileRange{.fd = fd_, .offset = offset, .length = length});
    }
  }

  testsupport::TempDir dir_;
  int fd_ = -1;
  std::string content_;
  storage::FetchPlan plan_;
  std::vector<std::string> expected_;  // each block's bytes
};

TEST_F(FetchStreamTest, FramesAreCutAtBlockBoundariesAcrossMergedRanges) {
  // One range of five blocks (1000 bytes each), a gap, one range of three, and a block larger
  // than a frame.
  for (int i = 0; i < 5; ++i) {
    AddBlock(4096 + i * 1000, 1000);
  }
  for (int i = 0; i < 3; ++i) {
    AddBlock(20000 + i * 700, 700);
  }
  AddBlock(40000, 9000);
  ASSERT_EQ(plan_.ranges.size(), 3u);
  auto files = std::make_shared<int>(0);
  plan_.files = files;

  CollectingWriter out;
  ASSERT_TRUE(StreamFetch(/*request_id=*/42, /*frame_bytes=*/2500, plan_, out).ok());
  ASSERT_FALSE(out.frames.empty());
  EXPECT_GT(files.use_count(), 1) << "queued frames must keep the plan's files open";

  std::vector<std::vector<uint32_t>> frame_blocks;  // seq of the blocks of each data frame
  size_t next = 0;
  for (size_t f = 0; f + 1 < out.frames.size(); ++f) {
    const core::Frame frame = Decode(out.frames[f]);
    ASSERT_EQ(frame.type, FrameType::kFetchData);
    EXPECT_EQ(frame.request_id, 42u);
    EXPECT_EQ(out.frames[f].type_byte(), static_cast<uint8_t>(FrameType::kFetchData));
    proto::FetchData data;
    ASSERT_TRUE(data.ParseFromString(frame.header));
    size_t at = 0;
    frame_blocks.emplace_back();
    for (const proto::BlockOrigin& origin : data.blocks()) {
      ASSERT_LT(next, expected_.size());
      EXPECT_EQ(origin.seq(), next);
      EXPECT_EQ(origin.partition_id(), 2u);
      EXPECT_EQ(frame.payload.substr(at, origin.length()), expected_[next]) << "block " << next;
      at += origin.length();
      frame_blocks.back().push_back(origin.seq());
      ++next;
    }
    EXPECT_EQ(at, frame.payload.size());
  }
  EXPECT_EQ(next, expected_.size());
  // 2500-byte frames: blocks 0-1 (a third would pass 2500), 2-3, 4 with two 700-byte blocks (the
  // first two ranges in one frame), 7, and the 9000-byte block alone.
  EXPECT_EQ(frame_blocks,
            (std::vector<std::vector<uint32_t>>{{0, 1}, {2, 3}, {4, 5, 6}, {7}, {8}}));
  EXPECT_EQ(out.frames[2].ranges().size(), 2u) << "a frame spanning two ranges";
  EXPECT_EQ(out.with_backpressure, 5);

  const core::Frame end = Decode(out.frames.back());
  ASSERT_EQ(end.type, FrameType::kFetchEnd);
  proto::FetchEnd totals;
  ASSERT_TRUE(totals.ParseFromString(end.header));
  EXPECT_EQ(totals.blocks(), expected_.size());
  EXPECT_EQ(totals.bytes(), plan_.bytes);
  out.frames.clear();
  plan_.files.reset();
  EXPECT_EQ(files.use_count(), 1);
}

TEST_F(FetchStreamTest, ARangeLongerThanAFrameIsSplitBetweenFrames) {
  for (int i = 0; i < 10; ++i) {
    AddBlock(i * 3000, 3000);  // one range of 30,000 bytes
  }
  ASSERT_EQ(plan_.ranges.size(), 1u);
  CollectingWriter out;
  ASSERT_TRUE(StreamFetch(7, 6000, plan_, out).ok());
  ASSERT_EQ(out.frames.size(), 6u);  // five frames of two blocks, and the end
  uint64_t offset = 0;
  for (size_t f = 0; f < 5; ++f) {
    ASSERT_EQ(out.frames[f].ranges().size(), 1u);
    const storage::FileRange& piece = out.frames[f].ranges()[0];
    EXPECT_EQ(piece.offset, offset);
    EXPECT_EQ(piece.length, 6000u);
    offset += piece.length;
    EXPECT_EQ(Decode(out.frames[f]).payload, content_.substr(piece.offset, 6000));
  }
}

TEST_F(FetchStreamTest, AnEmptyPlanIsJustTheEnd) {
  CollectingWriter out;
  ASSERT_TRUE(StreamFetch(9, 1 << 20, plan_, out).ok());
  ASSERT_EQ(out.frames.size(), 1u);
  const core::Frame end = Decode(out.frames[0]);
  EXPECT_EQ(end.type, FrameType::kFetchEnd);
  EXPECT_EQ(end.request_id, 9u);
}

TEST(OutFrameTest, SizeCountsTheRangesAndFlattenNamesAShortFile) {
  testsupport::TempDir dir;
  const std::string path = dir.path() + "/short";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abcdef", 6), 6);
  OutFrame frame("head",
                 {{.fd = fd, .offset = 1, .length = 3}, {.fd = fd, .offset = 4, .length = 2}},
                 nullptr);
  EXPECT_EQ(frame.size(), 9u);
  EXPECT_EQ(frame.Flatten().value_or(""), "headbcdef");
  OutFrame past_end("h", {{.fd = fd, .offset = 5, .length = 2}}, nullptr);
  EXPECT_EQ(past_end.Flatten().status().code(), absl::StatusCode::kDataLoss);
  close(fd);
}

}  // namespace
}  // namespace shuffle::dataplane
