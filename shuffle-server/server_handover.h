// The hand-over on SIGTERM (--handover-on-stop, docs/node-loss.md): whether this stop is the
// node going away, the peers to hand the outputs to, and the hand-over itself, recorded in the
// progress (/metrics) and the move ledger (GetMovedOutputs). Server::Stop runs it after the
// drain and before the listeners stop, so reads keep being served throughout.
//
// Thread-safety: one call at a time (Server::Stop's thread).
#ifndef SHUFFLE_SERVER_SERVER_HANDOVER_H_
#define SHUFFLE_SERVER_SERVER_HANDOVER_H_

#include <string>

#include "shuffle-server/handover/moves.h"
#include "shuffle-server/handover/progress.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle-server/server_options.h"
#include "shuffle-server/storage/engine.h"

namespace shuffle::server {

struct StopHandOverContext {
  const ServerOptions* options = nullptr;
  storage::StorageEngine* engine = nullptr;          // draining already
  const security::TokenAuthority* tokens = nullptr;  // null: unauthenticated
  std::string operator_secret;                       // the peers' (same on every server)
  handover::HandOverProgress* progress = nullptr;
  handover::MoveLedger* moves = nullptr;
};

// Hands the outputs over when --handover-on-stop says this stop calls for it, then lingers
// (--handover-linger-seconds) while drivers collect the moves. Returns true when it handed over.
// Every failure is logged (the outputs then fall back to re-runs); the stop goes on.
bool HandOverOnStop(const StopHandOverContext& context);

}  // namespace shuffle::server

#endif  // SHUFFLE_SERVER_SERVER_HANDOVER_H_
