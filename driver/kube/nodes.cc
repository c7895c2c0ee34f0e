#include "driver/kube/nodes.h"

#include <array>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shuffle::kube {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 7> kLeavingTaints = {
    "node.kubernetes.io/unschedulable",
    "ToBeDeletedByClusterAutoscaler",
    "aws-node-termination-handler/spot-itn",
    "aws-node-termination-handler/rebalance-recommendation",
    "aws-node-termination-handler/asg-lifecycle-termination",
    "cloud.google.com/impending-node-termination",
    "kubernetes.azure.com/scalesetpriority-eviction",
};

std::string StringAt(const json& object, const json::json_pointer& pointer) {
  if (!object.contains(pointer) || !object.at(pointer).is_string()) {
    return "";
  }
  return object.at(pointer).get<std::string>();
}

}  // namespace

std::optional<std::string> NodeLeavingReason(const json& node) {
  if (!StringAt(node, json::json_pointer("/metadata/deletionTimestamp")).empty()) {
    return "being deleted";
  }
  const json::json_pointer unschedulable("/spec/unschedulable");
  if (node.contains(unschedulable) && node.at(unschedulable).is_boolean() &&
      node.at(unschedulable).get<bool>()) {
    return "cordoned (spec.unschedulable)";
  }
  const json::json_pointer taints("/spec/taints");
  if (node.contains(taints) && node.at(taints).is_array()) {
    for (const json& taint : node.at(taints)) {
      const std::string key = StringAt(taint, json::json_pointer("/key"));
      for (std::string_view leaving : kLeavingTaints) {
        if (key == leaving) {
          return absl::StrCat("tainted ", key);
        }
      }
      if (absl::StrContains(key, "termination")) {
        return absl::StrCat("tainted ", key);
      }
    }
  }
  return std::nullopt;
}

}  // namespace shuffle::kube
