// What a Node object says about the node's future: whether it is going away (cordoned,
// tainted unschedulable or for termination, being deleted). Shared by the shuffle server (hand
// its outputs over on SIGTERM) and the driver's Kubernetes backend (no second copies there).
//
// Taints taken as "going away": node.kubernetes.io/unschedulable (cordon),
// ToBeDeletedByClusterAutoscaler (scale-down), and the spot/preemption termination notices of
// the common handlers: aws-node-termination-handler/spot-itn, .../rebalance-recommendation,
// .../asg-lifecycle-termination, cloud.google.com/impending-node-termination and
// kubernetes.azure.com/scalesetpriority-eviction (any key that contains "termination" too).
//
// Pure functions; thread-safe.
#ifndef SHUFFLE_DRIVER_KUBE_NODES_H_
#define SHUFFLE_DRIVER_KUBE_NODES_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace shuffle::kube {

// Why the Node object says the node is going away ("cordoned (spec.unschedulable)", "tainted
// ToBeDeletedByClusterAutoscaler", "being deleted"); nullopt when it stays.
std::optional<std::string> NodeLeavingReason(const nlohmann::json& node);

}  // namespace shuffle::kube

#endif  // SHUFFLE_DRIVER_KUBE_NODES_H_
