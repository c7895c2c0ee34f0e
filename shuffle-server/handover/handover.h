// HandOver: a shuffle server that is about to go away (its node drained, an operator's
// `shufflectl decommission`) copies every committed map output it holds to peer servers, so the
// drivers can point readers there instead of re-running the maps (docs/node-loss.md).
//
// Each output is read back from the engine (committed attempts only, checksums verified), pushed
// to the chosen peer over the data plane with the client library's writer, as the same map and
// attempt, and committed there: the peer acknowledges it only once it is durable, like any map
// output. The pushes carry the application's token, minted with the cluster secret every server
// holds, so server-to-server traffic is authenticated like the rest of the data plane. Peers are
// chosen by free space: each output goes to the peer with the most free space left, counting
// what this hand-over sent it. What cannot be moved before the deadline, or fails on every peer,
// is reported; those maps fall back to re-runs.
//
// Memory: one window of kPartitionsPerRead partitions of one map output at a time.
//
// Thread-safety: HandOver may run concurrently with anything the engine serves; two concurrent
// hand-overs of one engine would copy the same outputs twice (harmless: the first commit wins).
#ifndef SHUFFLE_SERVER_HANDOVER_HANDOVER_H_
#define SHUFFLE_SERVER_HANDOVER_HANDOVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/handover/peer_spec.h"
#include "shuffle-server/handover/progress.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/client/map_status.h"
#include "shuffle/core/ids.h"

namespace shuffle::security {
class TokenAuthority;
}  // namespace shuffle::security

namespace shuffle::handover {

// Partitions of one map output read into memory at once.
inline constexpr uint32_t kPartitionsPerRead = 64;

struct HandOverOptions {
  std::vector<PeerServer> peers;
  absl::Time deadline = absl::InfiniteFuture();
  // Mints the applications' tokens for the pushes; null or open: the peers are open too.
  const security::TokenAuthority* tokens = nullptr;
  // The operator secret, to ask the peers for their free space (GetStatus).
  std::string operator_secret;
  // Updated as outputs move (the /metrics page); may be null.
  HandOverProgress* progress = nullptr;
  // TLS to the peers' data planes (ca_file empty: plaintext).
  tls::ClientFiles peer_tls;
};

struct MovedOutput {
  std::string app_id;
  client::MapStatus status;  // its new place
};

struct UnmovedOutput {
  std::string app_id;
  core::ShuffleId shuffle{0};
  core::MapId map{0};
  absl::Status error;
};

struct HandOverReport {
  uint64_t maps = 0;  // committed map outputs held
  std::vector<MovedOutput> moved;
  std::vector<UnmovedOutput> unmoved;
  uint64_t bytes_moved = 0;  // encoded block bytes read and sent
  double seconds = 0;
};

// Copies every committed map output of `engine` to the peers. FAILED_PRECONDITION when no peer
// answers with its free space; per-output failures are in the report, not an error.
// REQUIRES: the engine is draining (nothing new commits while the outputs are listed).
absl::StatusOr<HandOverReport> HandOver(storage::StorageEngine* engine,
                                        const HandOverOptions& options);

}  // namespace shuffle::handover

#endif  // SHUFFLE_SERVER_HANDOVER_HANDOVER_H_
