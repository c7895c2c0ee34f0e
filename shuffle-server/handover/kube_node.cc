#include "shuffle-server/handover/kube_node.h"

#include "absl/strings/str_cat.h"
#include "driver/kube/nodes.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::handover {
namespace {

using nlohmann::json;

std::string StringAt(const json& object, const json::json_pointer& pointer) {
  if (!object.contains(pointer) || !object.at(pointer).is_string()) {
    return "";
  }
  return object.at(pointer).get<std::string>();
}

}  // namespace

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
  return kube::NodeLeavingReason(*node);
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
