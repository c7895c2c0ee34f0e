#include "driver/kube/nodes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::kube {
namespace {

using nlohmann::json;
using ::testing::Optional;

TEST(NodesTest, ANodeThatStaysHasNoReason) {
  EXPECT_EQ(NodeLeavingReason(json::parse(R"({"metadata":{"name":"n"},"spec":{}})")), std::nullopt);
  EXPECT_EQ(NodeLeavingReason(json::parse(
                R"({"spec":{"unschedulable":false,"taints":[{"key":"shuffle.io/dedicated",
                    "effect":"NoSchedule"},{"key":"node.kubernetes.io/disk-pressure"}]}})")),
            std::nullopt);
}

TEST(NodesTest, CordonedTaintedOrDeletedNodesAreLeaving) {
  EXPECT_THAT(NodeLeavingReason(json::parse(R"({"spec":{"unschedulable":true}})")),
              Optional(std::string("cordoned (spec.unschedulable)")));
  EXPECT_THAT(NodeLeavingReason(json::parse(
                  R"({"spec":{"taints":[{"key":"node.kubernetes.io/unschedulable"}]}})")),
              Optional(std::string("tainted node.kubernetes.io/unschedulable")));
  EXPECT_THAT(NodeLeavingReason(
                  json::parse(R"({"spec":{"taints":[{"key":"ToBeDeletedByClusterAutoscaler"}]}})")),
              Optional(std::string("tainted ToBeDeletedByClusterAutoscaler")));
  EXPECT_THAT(NodeLeavingReason(json::parse(
                  R"({"spec":{"taints":[{"key":"aws-node-termination-handler/spot-itn"}]}})")),
              Optional(std::string("tainted aws-node-termination-handler/spot-itn")));
  EXPECT_THAT(
      NodeLeavingReason(json::parse(
          R"({"spec":{"taints":[{"key":"cloud.google.com/impending-node-termination"}]}})")),
      Optional(std::string("tainted cloud.google.com/impending-node-termination")));
  EXPECT_THAT(NodeLeavingReason(json::parse(
                  R"({"metadata":{"deletionTimestamp":"2026-12-05T08:00:00Z"},"spec":{}})")),
              Optional(std::string("being deleted")));
}

}  // namespace
}  // namespace shuffle::kube
