#include "shuffle-server/handover/peer_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::handover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PeerSpecTest, ABareHostTakesTheDaemonSetPorts) {
  absl::StatusOr<PeerServer> peer = ParsePeer("10.0.0.7");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->data_address, "10.0.0.7:7340");
  EXPECT_EQ(peer->control_address, "10.0.0.7:7338");
  absl::StatusOr<PeerServer> v6 = ParsePeer("fd00::1");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->data_address, "[fd00::1]:7340");
  EXPECT_EQ(v6->control_address, "[fd00::1]:7338");
}

TEST(PeerSpecTest, BothAddressesGiven) {
  absl::StatusOr<PeerServer> peer = ParsePeer("node-b:9000/node-b:9001");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->data_address, "node-b:9000");
  EXPECT_EQ(peer->control_address, "node-b:9001");
}

TEST(PeerSpecTest, RefusesWhatItCannotPlace) {
  for (const char* bad : {"", "node-b:9000", "node-b:9000/", "/node-b:9001", "unix:/x/node-b:1",
                          "node-b:0/node-b:1", "node-b:x/node-b:1"}) {
    absl::StatusOr<PeerServer> peer = ParsePeer(bad);
    ASSERT_FALSE(peer.ok()) << bad;
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(peer.status().message(), HasSubstr("DATA_HOST:PORT/CONTROL_HOST:PORT")) << bad;
  }
}

TEST(PeerSpecTest, AListSkipsEmptyItems) {
  absl::StatusOr<std::vector<PeerServer>> peers = ParsePeerList("a, b:1/b:2,,");
  ASSERT_TRUE(peers.ok()) << peers.status();
  EXPECT_THAT(*peers, ElementsAre(PeerServer{"a:7340", "a:7338"}, PeerServer{"b:1", "b:2"}));
  EXPECT_FALSE(ParsePeerList("a,b:1").ok());
}

}  // namespace
}  // namespace shuffle::handover
