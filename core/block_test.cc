#include "shuffle/core/block.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Compressor::Create();
    auto d = Decompressor::Create();
    ASSERT_TRUE(c.ok() && d.ok());
    compressor_ = std::move(*c);
    decompressor_ = std::move(*d);
  }
  std::unique_ptr<Compressor> compressor_;
  std::unique_ptr<Decompressor> decompressor_;
};

std::string Records(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) {
    s.append("key-" + std::to_string(i % 50) + "=value;");
  }
  s.resize(n);
  return s;
}

TEST_F(BlockTest, RoundTripCompressedAndRaw) {
  for (size_t size : {size_t{0}, size_t{10}, size_t{4096}, size_t{300000}}) {
    const std::string raw = Records(size);
    for (Compressor* c : {compressor_.get(), static_cast<Compressor*>(nullptr)}) {
      std::string block = "xx";  // appends after existing bytes
      ASSERT_TRUE(EncodeBlock(raw, 17, c, &block).ok());
      std::string_view encoded = std::string_view(block).substr(2);
      auto header = ParseBlockHeader(encoded);
      ASSERT_TRUE(header.ok()) << header.status();
      EXPECT_EQ(header->raw_size, raw.size());
      EXPECT_EQ(header->record_count, 17u);
      EXPECT_EQ(header->encoded_size(), encoded.size());
      if (c != nullptr && size >= 4096) {
        EXPECT_EQ(header->codec, BlockCodec::kZstd);
      } else if (c == nullptr) {
        EXPECT_EQ(header->codec, BlockCodec::kNone);
      }
      std::string decoded;
      ASSERT_TRUE(DecodeBlock(encoded, decompressor_.get(), &decoded).ok());
      EXPECT_EQ(decoded, raw);
    }
  }
}

TEST_F(BlockTest, Lz4BlocksCarryTheirCodecAndDecodeWithTheSameDecompressor) {
  auto lz4 = Compressor::Create(Codec::kLz4, 1);
  ASSERT_TRUE(lz4.ok());
  const std::string raw = Records(300000);
  std::string zstd_block;
  std::string lz4_block;
  ASSERT_TRUE(EncodeBlock(raw, 3, compressor_.get(), &zstd_block).ok());
  ASSERT_TRUE(EncodeBlock(raw, 3, lz4->get(), &lz4_block).ok());
  EXPECT_EQ(ParseBlockHeader(zstd_block)->codec, BlockCodec::kZstd);
  EXPECT_EQ(ParseBlockHeader(lz4_block)->codec, BlockCodec::kLz4);
  EXPECT_LT(lz4_block.size(), raw.size() / 4);
  for (const std::string& block : {lz4_block, zstd_block, lz4_block}) {
    std::string decoded;
    ASSERT_TRUE(DecodeBlock(block, decompressor_.get(), &decoded).ok());
    EXPECT_EQ(decoded, raw);
  }
  // A codec byte past the known ones is refused before anything is decompressed.
  std::string unknown = lz4_block;
  unknown[4] = 3;
  EXPECT_EQ(ParseBlockHeader(unknown).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(BlockTest, IncompressibleDataIsStoredRaw) {
  std::string raw(8192, '\0');
  std::mt19937 rng(5);
  for (char& c : raw) {
    c = static_cast<char>(rng());
  }
  std::string block;
  ASSERT_TRUE(EncodeBlock(raw, 1, compressor_.get(), &block).ok());
  EXPECT_EQ(ParseBlockHeader(block)->codec, BlockCodec::kNone);
  EXPECT_EQ(block.size(), kBlockHeaderSize + raw.size());
}

TEST_F(BlockTest, AnyCorruptByteIsDetected) {
  std::string block;
  ASSERT_TRUE(EncodeBlock(Records(2000), 3, compressor_.get(), &block).ok());
  for (size_t i = 0; i < block.size(); ++i) {
    std::string bad = block;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    std::string out;
    absl::Status st = DecodeBlock(bad, decompressor_.get(), &out);
    EXPECT_FALSE(st.ok()) << "flip at byte " << i << " went unnoticed";
    EXPECT_TRUE(out.empty());
  }
}

TEST_F(BlockTest, TruncatedAndOverlongBlocksAreRejected) {
  std::string block;
  ASSERT_TRUE(EncodeBlock(Records(500), 3, nullptr, &block).ok());
  EXPECT_EQ(VerifyBlock(block.substr(0, 10)).code(), absl::StatusCode::kInvalidArgument);
  absl::Status short_body = VerifyBlock(block.substr(0, block.size() - 1));
  EXPECT_EQ(short_body.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(short_body.message().find("does not match its header"), std::string::npos);
  EXPECT_EQ(VerifyBlock(block + "z").code(), absl::StatusCode::kDataLoss);
}

TEST_F(BlockTest, ChecksumMismatchMessageIsSpecific) {
  std::string block;
  ASSERT_TRUE(EncodeBlock(Records(500), 3, nullptr, &block).ok());
  block[kBlockHeaderSize + 5] ^= 1;
  absl::Status st = VerifyBlock(block);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("checksum mismatch"), std::string::npos) << st;
}

TEST_F(BlockTest, OversizedBlockIsRefused) {
  std::string big(kMaxBlockSize + 1, 'a');
  std::string out;
  EXPECT_EQ(EncodeBlock(big, 1, nullptr, &out).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shuffle::core
