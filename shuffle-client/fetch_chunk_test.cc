#include "shuffle-client/fetch_chunk.h"

#include <cstring>

#include "gtest/gtest.h"
#include "shuffle/core/block.h"

namespace shuffle::client {
namespace {

struct TestBlock {
  uint32_t map;
  uint32_t attempt;
  uint32_t seq;
  std::string raw;
  bool compress = false;
};

class FetchChunkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tracker_.Accept(core::MapId(1), core::AttemptId(0), 4);
    tracker_.Accept(core::MapId(2), core::AttemptId(3), 4);
    auto compressor = core::Compressor::Create(1);
    ASSERT_TRUE(compressor.ok());
    compressor_ = std::move(*compressor);
    auto decompressor = core::Decompressor::Create();
    ASSERT_TRUE(decompressor.ok());
    decompressor_ = std::move(*decompressor);
  }

  // Encodes `blocks` as one FetchData frame whose payload is put into `chunk`.
  proto::FetchData Frame(const std::vector<TestBlock>& blocks, FetchChunk* chunk) {
    proto::FetchData data;
    std::string payload;
    for (const TestBlock& b : blocks) {
      const size_t before = payload.size();
      EXPECT_TRUE(
          core::EncodeBlock(b.raw, 1, b.compress ? compressor_.get() : nullptr, &payload).ok());
      proto::BlockOrigin* origin = data.add_blocks();
      origin->set_map_id(b.map);
      origin->set_attempt(b.attempt);
      origin->set_partition_id(2);
      origin->set_seq(b.seq);
      origin->set_length(static_cast<uint32_t>(payload.size() - before));
    }
    chunk->payload().ResizeUninitialized(payload.size());
    std::memcpy(chunk->payload().data(), payload.data(), payload.size());
    return data;
  }

  const BlockSource source_{.shuffle = "app/3", .server = "unix:/s"};
  BlockTracker tracker_;
  std::unique_ptr<core::Compressor> compressor_;
  std::unique_ptr<core::Decompressor> decompressor_;
};

TEST_F(FetchChunkTest, DeliversStoredBlocksInPlaceAndDecompressesTheOthers) {
  const std::string compressible(5000, 'z');
  FetchChunk chunk;
  const proto::FetchData data =
      Frame({{.map = 1, .attempt = 0, .seq = 0, .raw = "first"},
             {.map = 2, .attempt = 3, .seq = 1, .raw = compressible, .compress = true},
             {.map = 1, .attempt = 0, .seq = 1, .raw = "third"}},
            &chunk);
  ASSERT_TRUE(DecodeFetchData(data, source_, &tracker_, decompressor_.get(), &chunk).ok());
  ASSERT_EQ(chunk.blocks(), 3u);
  EXPECT_EQ(chunk.block(0), "first");
  EXPECT_EQ(chunk.block(1), compressible);
  EXPECT_EQ(chunk.block(2), "third");
  // Stored blocks are views into the payload as received: no copy.
  EXPECT_GE(chunk.block(0).data(), chunk.payload().data());
  EXPECT_LT(chunk.block(0).data(), chunk.payload().data() + chunk.payload().size());
  EXPECT_EQ(chunk.raw_bytes(), 5u + compressible.size() + 5u);
  EXPECT_EQ(chunk.encoded_bytes(), chunk.payload().size());
  EXPECT_EQ(tracker_.delivered(), 3u);
}

TEST_F(FetchChunkTest, SkipsUnknownAttemptsAndBlocksDeliveredBeforeARetry) {
  FetchChunk chunk;
  const proto::FetchData first = Frame({{.map = 1, .attempt = 0, .seq = 2, .raw = "kept"}}, &chunk);
  ASSERT_TRUE(DecodeFetchData(first, source_, &tracker_, decompressor_.get(), &chunk).ok());
  ASSERT_EQ(chunk.blocks(), 1u);
  // The server, restarted, sends it again, with a superseded attempt's block and a new one.
  const proto::FetchData again = Frame({{.map = 1, .attempt = 0, .seq = 2, .raw = "kept"},
                                        {.map = 1, .attempt = 1, .seq = 0, .raw = "superseded"},
                                        {.map = 7, .attempt = 0, .seq = 0, .raw = "unknown map"},
                                        {.map = 1, .attempt = 0, .seq = 3, .raw = "new"}},
                                       &chunk);
  ASSERT_TRUE(DecodeFetchData(again, source_, &tracker_, decompressor_.get(), &chunk).ok());
  ASSERT_EQ(chunk.blocks(), 1u);
  EXPECT_EQ(chunk.block(0), "new");
  EXPECT_EQ(tracker_.delivered(), 2u);
}

TEST_F(FetchChunkTest, ACorruptBlockIsReportedByItsOrigin) {
  FetchChunk chunk;
  const proto::FetchData data = Frame({{.map = 1, .attempt = 0, .seq = 0, .raw = "good"},
                                       {.map = 2, .attempt = 3, .seq = 2, .raw = "bad block"}},
                                      &chunk);
  chunk.payload().data()[chunk.payload().size() - 2] ^= 0x01;
  const absl::Status st = DecodeFetchData(data, source_, &tracker_, decompressor_.get(), &chunk);
  ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("corrupt block: shuffle app/3 map 2 attempt 3 partition 2 block 2 "
                              "from server unix:/s: "),
            std::string::npos)
      << st;
  BlockTracker::Slot slot = tracker_.Find(2, 3);
  EXPECT_FALSE(tracker_.Delivered(slot, 2));  // never counted as received
}

TEST_F(FetchChunkTest, AFrameListingMoreBytesThanItCarriesIsDataLoss) {
  FetchChunk chunk;
  proto::FetchData data = Frame({{.map = 1, .attempt = 0, .seq = 0, .raw = "block"}}, &chunk);
  data.mutable_blocks(0)->set_length(data.blocks(0).length() + 1);
  const absl::Status st = DecodeFetchData(data, source_, &tracker_, decompressor_.get(), &chunk);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_EQ(tracker_.delivered(), 0u);
}

TEST_F(FetchChunkTest, AReusedChunkForgetsItsPreviousBlocks) {
  FetchChunk chunk;
  const proto::FetchData one =
      Frame({{.map = 1, .attempt = 0, .seq = 0, .raw = std::string(3000, 'q'), .compress = true}},
            &chunk);
  ASSERT_TRUE(DecodeFetchData(one, source_, &tracker_, decompressor_.get(), &chunk).ok());
  const proto::FetchData two = Frame({{.map = 1, .attempt = 0, .seq = 1, .raw = "next"}}, &chunk);
  ASSERT_TRUE(DecodeFetchData(two, source_, &tracker_, decompressor_.get(), &chunk).ok());
  ASSERT_EQ(chunk.blocks(), 1u);
  EXPECT_EQ(chunk.block(0), "next");
  EXPECT_EQ(chunk.raw_bytes(), 4u);
}

}  // namespace
}  // namespace shuffle::client
