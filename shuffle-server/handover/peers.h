// Peers of a hand-over and their free space, as each one's control plane reports it
// (GetStatus with the operator secret: the sum of its data directories' free bytes).
//
// Not thread-safe: one hand-over owns its PeerChoice.
#ifndef SHUFFLE_SERVER_HANDOVER_PEERS_H_
#define SHUFFLE_SERVER_HANDOVER_PEERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/handover/handover.h"

namespace shuffle::handover {

// The free bytes of a peer's data directories, asked through `tls` (plaintext when not
// enabled). Errors name the peer.
absl::StatusOr<uint64_t> PeerFreeBytes(const PeerServer& peer, const std::string& operator_secret,
                                       const tls::ClientFiles& tls, absl::Time deadline);

class PeerChoice {
 public:
  // Asks every peer for its free space; those that do not answer are left out (logged).
  // FAILED_PRECONDITION when none answers.
  static absl::StatusOr<PeerChoice> Ask(const std::vector<PeerServer>& peers,
                                        const std::string& operator_secret,
                                        const tls::ClientFiles& tls, absl::Time deadline);

  // The peers by free space left, most first, skipping those in `exclude` (indexes).
  std::vector<size_t> Ranked() const;
  const PeerServer& peer(size_t i) const { return peers_[i].server; }
  // `bytes` went to peer i.
  void Charge(size_t i, uint64_t bytes);

 private:
  struct Entry {
    PeerServer server;
    uint64_t free_bytes = 0;
  };
  std::vector<Entry> peers_;
};

}  // namespace shuffle::handover

#endif  // SHUFFLE_SERVER_HANDOVER_PEERS_H_
