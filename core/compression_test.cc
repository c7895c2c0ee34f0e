#include "shuffle/core/compression.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

std::string Text(size_t n) {
  std::string s;
  while (s.size() < n) {
    s.append("the quick brown fox jumps over the lazy dog ");
  }
  s.resize(n);
  return s;
}

TEST(CompressionTest, RoundTripsWithReusedContexts) {
  auto c = Compressor::Create();
  auto d = Decompressor::Create();
  ASSERT_TRUE(c.ok() && d.ok());
  std::mt19937 rng(1);
  for (size_t size : {size_t{0}, size_t{1}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    for (bool random : {false, true}) {
      std::string input = Text(size);
      if (random) {
        for (char& ch : input) {
          ch = static_cast<char>(rng());
        }
      }
      std::string compressed;
      ASSERT_TRUE((*c)->Compress(input, &compressed).ok());
      if (!random && size >= 4096) {
        EXPECT_LT(compressed.size(), input.size() / 4);
      }
      std::string output = "prefix";
      ASSERT_TRUE((*d)->Decompress(Codec::kZstd, compressed, input.size(), &output).ok());
      EXPECT_EQ(output, "prefix" + input);
    }
  }
}

TEST(CompressionTest, CorruptOrMismatchedInputIsDataLossAndAppendsNothing) {
  auto c = Compressor::Create();
  auto d = Decompressor::Create();
  ASSERT_TRUE(c.ok() && d.ok());
  const std::string input = Text(10000);
  std::string compressed;
  ASSERT_TRUE((*c)->Compress(input, &compressed).ok());

  std::string out;
  absl::Status wrong_size = (*d)->Decompress(Codec::kZstd, compressed, input.size() + 1, &out);
  EXPECT_EQ(wrong_size.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(out.empty());

  std::string garbage = "definitely not zstd";
  EXPECT_EQ((*d)->Decompress(Codec::kZstd, garbage, 5, &out).code(), absl::StatusCode::kDataLoss);

  std::string truncated = compressed.substr(0, compressed.size() / 2);
  EXPECT_EQ((*d)->Decompress(Codec::kZstd, truncated, input.size(), &out).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(out.empty());

  // The context stays usable after errors.
  ASSERT_TRUE((*d)->Decompress(Codec::kZstd, compressed, input.size(), &out).ok());
  EXPECT_EQ(out, input);
}

TEST(CompressionTest, InvalidLevelIsRejected) {
  EXPECT_EQ(Compressor::Create(1000).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Compressor::Create(Codec::kLz4, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Compressor::Create(Codec::kNone, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CompressionTest, Lz4RoundTripsAtEveryAccelerationAndDetectsCorruption) {
  auto d = Decompressor::Create();
  ASSERT_TRUE(d.ok());
  const std::string input = Text(100000);
  for (int level : {1, -1, -3, -10}) {
    auto c = Compressor::Create(Codec::kLz4, level);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->codec(), Codec::kLz4);
    std::string compressed;
    ASSERT_TRUE((*c)->Compress(input, &compressed).ok());
    EXPECT_LT(compressed.size(), input.size() / 4) << level;
    std::string output = "prefix";
    ASSERT_TRUE((*d)->Decompress(Codec::kLz4, compressed, input.size(), &output).ok());
    EXPECT_EQ(output, "prefix" + input);

    std::string out;
    EXPECT_EQ((*d)->Decompress(Codec::kLz4, compressed, input.size() + 1, &out).code(),
              absl::StatusCode::kDataLoss);
    EXPECT_EQ((*d)->Decompress(Codec::kLz4, compressed.substr(0, compressed.size() / 2),
                               input.size(), &out)
                  .code(),
              absl::StatusCode::kDataLoss);
    // A zstd frame read as LZ4 and the other way round are refused, not misread.
    EXPECT_FALSE((*d)->Decompress(Codec::kZstd, compressed, input.size(), &out).ok());
    EXPECT_TRUE(out.empty());
  }
}

TEST(CompressionTest, CodecsAreNamedInMessages) {
  EXPECT_EQ(CodecName(Codec::kNone), "none");
  EXPECT_EQ(CodecName(Codec::kZstd), "zstd");
  EXPECT_EQ(CodecName(Codec::kLz4), "lz4");
  const std::string refused(Compressor::Create(Codec::kNone, 1).status().message());
  EXPECT_NE(refused.find("zstd or lz4, not none"), std::string::npos) << refused;
}

}  // namespace
}  // namespace shuffle::core
