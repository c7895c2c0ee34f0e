#include "shuffle-client/record_format.h"

#include <string>

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

TEST(RecordFormatTest, RoundTripIncludingEmptyAndLarge) {
  std::string buf;
  const std::string big(300000, 'v');
  AppendRecord(&buf, "k1", "v1");
  AppendRecord(&buf, "", "");
  AppendRecord(&buf, std::string(200, 'k'), big);
  RecordIterator it(buf);
  std::string_view k;
  std::string_view v;
  ASSERT_TRUE(*it.Next(&k, &v));
  EXPECT_EQ(k, "k1");
  EXPECT_EQ(v, "v1");
  ASSERT_TRUE(*it.Next(&k, &v));
  EXPECT_TRUE(k.empty() && v.empty());
  ASSERT_TRUE(*it.Next(&k, &v));
  EXPECT_EQ(k, std::string(200, 'k'));
  EXPECT_EQ(v, big);
  EXPECT_FALSE(*it.Next(&k, &v));
}

TEST(RecordFormatTest, TruncatedOrOverlongIsDataLoss) {
  std::string buf;
  AppendRecord(&buf, "key", "value");
  for (size_t cut = 1; cut < buf.size(); ++cut) {
    RecordIterator it(std::string_view(buf).substr(0, cut));
    std::string_view k;
    std::string_view v;
    EXPECT_EQ(it.Next(&k, &v).status().code(), absl::StatusCode::kDataLoss) << cut;
  }
  std::string bad = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
  RecordIterator it(bad);
  std::string_view k;
  std::string_view v;
  EXPECT_EQ(it.Next(&k, &v).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shuffle::client
