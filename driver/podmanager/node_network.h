// NodeNetwork: gives each simulated node of the local cluster a network of its own, so that one
// node can be cut off the way a real one is (a switch port dies, a NIC hangs): each node is a
// network namespace joined by a veth pair to a bridge in the driver's namespace, with an address
// on one private /24 (10.213.S.0/24; the driver is .1, node i is .(10+i)). Partition(i) takes the
// bridge side of node i's link down: every packet to and from the node is lost, established TCP
// connections hang instead of being reset, and the node's processes keep running, as in a real
// partition. Heal(i) brings it back.
//
// Made with iproute2's `ip` (netlink by hand buys nothing here), so it needs root (CAP_NET_ADMIN).
// Names carry this process's id, so runs do not collide; Create() first removes what a dead run
// left behind, and the destructor removes the namespaces and the bridge. Thread-safe.
#ifndef SHUFFLE_DRIVER_PODMANAGER_NODE_NETWORK_H_
#define SHUFFLE_DRIVER_PODMANAGER_NODE_NETWORK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::podmanager {

class NodeNetwork {
 public:
  // Creates the bridge and `nodes` namespaces. `log_path` receives what `ip` prints; errors quote
  // it and say what is needed (root, iproute2).
  static absl::StatusOr<std::unique_ptr<NodeNetwork>> Create(uint32_t nodes, std::string log_path);
  ~NodeNetwork();
  NodeNetwork(const NodeNetwork&) = delete;
  NodeNetwork& operator=(const NodeNetwork&) = delete;

  // The driver's address on the bridge: what executors in the nodes connect to.
  const std::string& host_address() const { return host_address_; }
  // Node i's address, and the namespace file a process of node i joins (core::ProcessSpec::netns).
  std::string NodeAddress(uint32_t node) const;
  std::string NamespacePath(uint32_t node) const;

  // Cuts node i off from the bridge (and so from the driver and every other node), or heals it.
  absl::Status Partition(uint32_t node);
  absl::Status Heal(uint32_t node);

 private:
  NodeNetwork(uint32_t nodes, std::string log_path);
  absl::Status Build();
  absl::Status SetLink(uint32_t node, bool up);
  std::string NamespaceName(uint32_t node) const;
  std::string VethName(uint32_t node) const;

  const uint32_t nodes_;
  const std::string log_path_;
  const std::string id_;  // this process's id: in every name
  std::string bridge_;
  std::string subnet_;  // "10.213.S."
  std::string host_address_;
  std::vector<bool> made_;  // namespaces created, for the destructor
  bool bridge_made_ = false;
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_NODE_NETWORK_H_
