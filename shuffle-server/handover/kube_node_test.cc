#include "shuffle-server/handover/kube_node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::handover {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

TEST(KubeNodeTest, PeersAreRunningServersOnOtherNodes) {
  const std::vector<json> pods = {
      json::parse(R"({"metadata":{"name":"a"},"spec":{"nodeName":"node-a"},
                      "status":{"phase":"Running","hostIP":"10.0.0.1"}})"),
      json::parse(R"({"metadata":{"name":"b"},"spec":{"nodeName":"node-b"},
                      "status":{"phase":"Running","hostIP":"10.0.0.2"}})"),
      json::parse(R"({"metadata":{"name":"c"},"spec":{"nodeName":"node-c"},
                      "status":{"phase":"Pending","hostIP":"10.0.0.3"}})"),
      json::parse(R"({"metadata":{"name":"d","deletionTimestamp":"2026-12-05T08:00:00Z"},
                      "spec":{"nodeName":"node-d"},"status":{"phase":"Running","hostIP":"10.0.0.4"}})"),
      json::parse(R"({"metadata":{"name":"e"},"spec":{"nodeName":"node-e"},
                      "status":{"phase":"Running"}})"),
  };
  EXPECT_THAT(PeersFromPods(pods, "node-a"),
              ElementsAre(PeerServer{"10.0.0.2:7340", "10.0.0.2:7338"}));
}

}  // namespace
}  // namespace shuffle::handover
