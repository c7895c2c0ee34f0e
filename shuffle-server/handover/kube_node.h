// What the Kubernetes API says about this server's node and its peers, for a hand-over on stop
// (docs/node-loss.md): whether the node is going away (cordoned, tainted unschedulable or for
// termination, being deleted, or already gone), and which other shuffle servers run.
//
// What counts as "going away" is kube::NodeLeavingReason's (driver/kube/nodes.h).
//
// Stateless functions; thread-safe when the client is.
#ifndef SHUFFLE_SERVER_HANDOVER_KUBE_NODE_H_
#define SHUFFLE_SERVER_HANDOVER_KUBE_NODE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "driver/kube/client.h"
#include "shuffle-server/handover/peer_spec.h"

namespace shuffle::handover {

// Asks the API server about node `node_name`: the reason it is going away (a deleted Node
// object is one), or nullopt. Errors name the node.
absl::StatusOr<std::optional<std::string>> AskNodeLeaving(const kube::Client& client,
                                                          std::string_view node_name);

// The peers from a pod list: pods Running and not being deleted, on another node than
// `own_node`, with a host IP, at that IP with the default ports.
std::vector<PeerServer> PeersFromPods(const std::vector<nlohmann::json>& pods,
                                      std::string_view own_node);

// Lists the pods with `selector` in the client's namespace; PeersFromPods.
absl::StatusOr<std::vector<PeerServer>> AskPeers(const kube::Client& client,
                                                 std::string_view selector,
                                                 std::string_view own_node);

// The client for --kubeconfig (empty: in-cluster).
absl::StatusOr<std::unique_ptr<kube::Client>> OpenKubeClient(const std::string& kubeconfig);

}  // namespace shuffle::handover

#endif  // SHUFFLE_SERVER_HANDOVER_KUBE_NODE_H_
