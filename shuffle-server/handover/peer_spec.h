// PeerServer and its command-line form: the shuffle servers that may take a decommissioning
// node's map outputs, as `shufflectl decommission --peer=...` and the server's --handover-peers
// name them.
//
//   HOST                          data HOST:7340, control HOST:7338 (the DaemonSet's ports)
//   DATA_HOST:PORT/CTL_HOST:PORT  both addresses given
//
// A list is comma-separated. Plain values and pure functions; thread-safe.
#ifndef SHUFFLE_SERVER_HANDOVER_PEER_SPEC_H_
#define SHUFFLE_SERVER_HANDOVER_PEER_SPEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shuffle::handover {

// The ports a bare HOST stands for (deploy/base/daemonset.yaml).
inline constexpr uint16_t kDefaultPeerDataPort = 7340;
inline constexpr uint16_t kDefaultPeerControlPort = 7338;

struct PeerServer {
  std::string data_address;     // where outputs are pushed, HOST:PORT
  std::string control_address;  // asked for its free space, HOST:PORT

  friend bool operator==(const PeerServer& a, const PeerServer& b) = default;
};

// One peer, "HOST" or "DATA/CONTROL". INVALID_ARGUMENT quoting the text and the expected form
// (a Unix socket, a missing port on one side of '/', a lone HOST:PORT whose role is unclear).
absl::StatusOr<PeerServer> ParsePeer(std::string_view text);
// A comma-separated list of peers; empty items are skipped.
absl::StatusOr<std::vector<PeerServer>> ParsePeerList(std::string_view text);

}  // namespace shuffle::handover

#endif  // SHUFFLE_SERVER_HANDOVER_PEER_SPEC_H_
