// Decommission: the call a node's lifecycle (a drain, a spot-termination notice) makes on the
// node's shuffle server before the node goes: ShuffleControl.Decommission with the operator
// secret (docs/node-loss.md). The server drains and hands its committed map outputs over to the
// peers; the answer says where each one went.
//
// Thread-safe (one gRPC channel per call).
#ifndef SHUFFLE_DRIVER_PODMANAGER_DECOMMISSION_H_
#define SHUFFLE_DRIVER_PODMANAGER_DECOMMISSION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"
#include "driver/podmanager/backend.h"

namespace shuffle::podmanager {

struct DecommissionPeer {
  std::string data_address;
  std::string control_address;
};

struct DecommissionResult {
  uint64_t maps = 0;                 // committed outputs the server held
  std::vector<MovedOutput> moved;    // where each moved output is now
  std::vector<std::string> unmoved;  // "app/shuffle/map: error" of each output left behind
  uint64_t bytes_moved = 0;
  double seconds = 0;
};

// Errors name the server; the call's deadline is `grace` plus a few seconds for the answer.
// Through TLS when `tls` names a CA.
absl::StatusOr<DecommissionResult> Decommission(const std::string& control_address,
                                                const std::string& operator_secret,
                                                const std::vector<DecommissionPeer>& peers,
                                                std::chrono::seconds grace,
                                                const tls::ClientFiles& tls = {});

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_DECOMMISSION_H_
