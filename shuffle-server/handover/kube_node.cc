#include "shuffle-server/handover/kube_node.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::handover {
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

absl::StatusOr<std::optional<std::string>> AskNodeLeaving(const kube::Client& client,
                                                          std::string_view node_name) {
  absl::StatusOr<kube::Json> node = client.Get(kube::Nodes(node_name));
  if (absl::IsNotFound(node.status())) {
    return std::optional<std::string>("the Node object is gone");
  }
  if (!node.ok()) {
    return core::Annotate(node.status(), absl::StrCat("asking the Kubernetes API about node ",
                                                      core::ToAbsl(node_name)));
  }
  return NodeLeavingReason(*node);
}

std::vector<PeerServer> PeersFromPods(const std::vector<json>& pods, std::string_view own_node) {
  std::vector<PeerServer> peers;
  for (const json& pod : pods) {
    if (StringAt(pod, json::json_pointer("/status/phase")) != "Running" ||
        !StringAt(pod, json::json_pointer("/metadata/deletionTimestamp")).empty()) {
      continue;
    }
    const std::string node = StringAt(pod, json::json_pointer("/spec/nodeName"));
    const std::string host_ip = StringAt(pod, json::json_pointer("/status/hostIP"));
    if (node.empty() || node == own_node || host_ip.empty()) {
      continue;
    }
    peers.push_back(PeerServer{
        .data_address = core::Endpoint::Tcp(host_ip, kDefaultPeerDataPort).ToString(),
        .control_address = core::Endpoint::Tcp(host_ip, kDefaultPeerControlPort).ToString()});
  }
  return peers;
}

absl::StatusOr<std::vector<PeerServer>> AskPeers(const kube::Client& client,
                                                 std::string_view selector,
                                                 std::string_view own_node) {
  const std::string& ns = client.config().default_namespace;
  kube::ListOptions list;
  list.label_selector = std::string(selector);
  absl::StatusOr<kube::ListResult> pods = client.List(kube::Pods(ns), list);
  if (!pods.ok()) {
    return core::Annotate(pods.status(),
                          absl::StrCat("listing the shuffle servers (", core::ToAbsl(selector),
                                       ") in namespace ", ns));
  }
  return PeersFromPods(pods->items, own_node);
}

absl::StatusOr<std::unique_ptr<kube::Client>> OpenKubeClient(const std::string& kubeconfig) {
  kube::KubeconfigOptions file;
  file.path = kubeconfig;
  absl::StatusOr<kube::Config> config = kubeconfig.empty()
                                            ? kube::LoadInClusterConfig(kube::InClusterOptions{})
                                            : kube::LoadKubeconfig(file);
  if (!config.ok()) {
    return core::Annotate(config.status(),
                          kubeconfig.empty() ? "the pod's service account" : "--kubeconfig");
  }
  config->request_timeout = absl::Seconds(10);
  return kube::Client::Open(*config);
}

}  // namespace shuffle::handover
