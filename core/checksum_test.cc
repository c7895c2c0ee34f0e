#include "shuffle/core/checksum.h"

#include <string>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

TEST(ChecksumTest, StreamingEqualsOneShotForAnySplit) {
  std::string data;
  for (int i = 0; i < 5000; ++i) {
    data.push_back(static_cast<char>(i * 131 + 7));
  }
  const uint64_t whole = Checksum64(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{63}, size_t{240}, size_t{4999}, data.size()}) {
    StreamingChecksum s;
    s.Update(std::string_view(data).substr(0, split));
    s.Update(std::string_view(data).substr(split));
    EXPECT_EQ(s.Digest(), whole) << "split at " << split;
  }
}

TEST(ChecksumTest, DetectsEverySingleBitFlipInABlock) {
  std::string data(4096, 'x');
  const uint64_t reference = Checksum64(data);
  for (size_t byte = 0; byte < data.size(); byte += 97) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = data;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      EXPECT_NE(Checksum64(flipped), reference) << byte << ":" << bit;
    }
  }
}

TEST(ChecksumTest, ResetStartsOver) {
  StreamingChecksum s;
  s.Update("garbage");
  s.Reset();
  s.Update("abc");
  EXPECT_EQ(s.Digest(), Checksum64("abc"));
}

}  // namespace
}  // namespace shuffle::core
