#include "shuffle/client/discovery.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    for (const char* name : {"SHUFFLE_SERVER_SOCKET", "SHUFFLE_SERVER_ADDRESS", "SHUFFLE_NODE_IP",
                             "SHUFFLE_SERVER_PORT"}) {
      unsetenv(name);
    }
  }
};

TEST_F(DiscoveryTest, NothingConfiguredNamesTheVariables) {
  auto address = DiscoverLocalServer();
  EXPECT_EQ(address.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(address.status().message().find("SHUFFLE_SERVER_SOCKET"), std::string::npos);
  EXPECT_NE(address.status().message().find("status.hostIP"), std::string::npos);
}

TEST_F(DiscoveryTest, PrecedenceSocketThenAddressThenNodeIp) {
  setenv("SHUFFLE_NODE_IP", "10.1.2.3", 1);
  EXPECT_EQ(*DiscoverLocalServer(), "10.1.2.3:7340");
  setenv("SHUFFLE_SERVER_PORT", "9000", 1);
  EXPECT_EQ(*DiscoverLocalServer(), "10.1.2.3:9000");
  setenv("SHUFFLE_NODE_IP", "fd00::1", 1);
  EXPECT_EQ(*DiscoverLocalServer(), "[fd00::1]:9000");
  setenv("SHUFFLE_SERVER_ADDRESS", "127.0.0.1:7000", 1);
  EXPECT_EQ(*DiscoverLocalServer(), "127.0.0.1:7000");
  setenv("SHUFFLE_SERVER_SOCKET", "/var/run/shuffle/data.sock", 1);
  EXPECT_EQ(*DiscoverLocalServer(), "unix:/var/run/shuffle/data.sock");
}

}  // namespace
}  // namespace shuffle::client
