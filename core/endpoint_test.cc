#include "shuffle/core/endpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::core {
namespace {

using ::testing::HasSubstr;

std::string Error(std::string_view text) {
  absl::StatusOr<Endpoint> e = Endpoint::Parse(text);
  EXPECT_FALSE(e.ok()) << text;
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(e.status().message());
}

TEST(EndpointTest, ParsesTcpAndUnixAndFormatsThemBack) {
  absl::StatusOr<Endpoint> tcp = Endpoint::Parse("127.0.0.1:7337");
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_FALSE(tcp->is_unix());
  EXPECT_EQ(tcp->host(), "127.0.0.1");
  EXPECT_EQ(tcp->port(), 7337);
  EXPECT_EQ(tcp->ToString(), "127.0.0.1:7337");

  absl::StatusOr<Endpoint> v6 = Endpoint::Parse("[fd00::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host(), "fd00::1");
  EXPECT_EQ(v6->BracketedHost(), "[fd00::1]");
  EXPECT_EQ(v6->WithPort(9000).ToString(), "[fd00::1]:9000");

  absl::StatusOr<Endpoint> any = Endpoint::Parse(":7338");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->host(), "");
  EXPECT_EQ(Endpoint::Parse("shuffle.local:1")->host(), "shuffle.local");

  absl::StatusOr<Endpoint> unix = Endpoint::Parse("unix:/run/shuffle/data.sock");
  ASSERT_TRUE(unix.ok()) << unix.status();
  EXPECT_TRUE(unix->is_unix());
  EXPECT_EQ(unix->path(), "/run/shuffle/data.sock");
  EXPECT_EQ(unix->ToString(), "unix:/run/shuffle/data.sock");
  EXPECT_EQ(Endpoint::Unix("/a b").ToString(), "unix:/a b");
  EXPECT_EQ(*Endpoint::Parse(Endpoint::Tcp("::1", 80).ToString()), Endpoint::Tcp("::1", 80));
}

TEST(EndpointTest, ErrorsQuoteTheTextAndShowTheForm) {
  EXPECT_THAT(Error("localhost"), HasSubstr("address \"localhost\": no port"));
  EXPECT_THAT(Error("localhost"), HasSubstr("expected HOST:PORT"));
  EXPECT_THAT(Error("h:port"), HasSubstr("not a number from 0 to 65535"));
  EXPECT_THAT(Error("h:65536"), HasSubstr("not a number from 0 to 65535"));
  EXPECT_THAT(Error("h:-1"), HasSubstr("not a number"));
  EXPECT_THAT(Error("h:"), HasSubstr("not a number"));
  EXPECT_THAT(Error("fd00::1:80"), HasSubstr("IPv6 address needs brackets"));
  EXPECT_THAT(Error("[fd00::1]"), HasSubstr("no port"));
  EXPECT_THAT(Error("[fd00::1:80"), HasSubstr("unbalanced brackets"));
  EXPECT_THAT(Error("unix:"), HasSubstr("path is empty"));
  EXPECT_THAT(Error("unix:/" + std::string(200, 'x')), HasSubstr("longer than 107"));
  EXPECT_THAT(Error(""), HasSubstr("no port"));
}

TEST(EndpointTest, DefaultPortForABareHost) {
  EXPECT_EQ(Endpoint::ParseWithDefaultPort("shuffle.local", 7000)->ToString(),
            "shuffle.local:7000");
  EXPECT_EQ(Endpoint::ParseWithDefaultPort("shuffle.local:9000", 7000)->ToString(),
            "shuffle.local:9000");
  EXPECT_EQ(Endpoint::ParseWithDefaultPort("fd00::1", 7000)->ToString(), "[fd00::1]:7000");
  EXPECT_EQ(Endpoint::ParseWithDefaultPort("[fd00::1]", 7000)->ToString(), "[fd00::1]:7000");
  EXPECT_FALSE(Endpoint::ParseWithDefaultPort("h:x", 7000).ok());
  EXPECT_FALSE(Endpoint::ParseWithDefaultPort("", 7000).ok());
  EXPECT_EQ(BracketHost("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(BracketHost("::1"), "[::1]");
}

}  // namespace
}  // namespace shuffle::core
