// MoveLedger: the new places of the map outputs this server handed over, kept so that drivers
// can ask for them (ShuffleControl.GetMovedOutputs) while the server still runs: after a
// hand-over on SIGTERM the server lingers (--handover-linger-seconds), serving reads and the
// ledger, so a driver polling it re-points its readers before the server exits.
//
// Thread-safe.
#ifndef SHUFFLE_SERVER_HANDOVER_MOVES_H_
#define SHUFFLE_SERVER_HANDOVER_MOVES_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/handover/handover.h"

namespace shuffle::handover {

class MoveLedger {
 public:
  enum class State { kNone, kRunning, kDone };

  struct AppMoves {
    State state = State::kNone;
    std::vector<MovedOutput> moved;
    std::vector<UnmovedOutput> unmoved;
  };

  MoveLedger() = default;
  MoveLedger(const MoveLedger&) = delete;
  MoveLedger& operator=(const MoveLedger&) = delete;

  // A hand-over started; then its report.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Record(const HandOverReport& report) ABSL_LOCKS_EXCLUDED(mu_);
  // A hand-over ended without a report (no peer answered): nothing moved.
  void Abort() ABSL_LOCKS_EXCLUDED(mu_);

  // The outputs of `app_id` (every application's when empty) moved or left by the hand-overs.
  AppMoves ForApp(const std::string& app_id) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kNone;
  std::vector<MovedOutput> moved_ ABSL_GUARDED_BY(mu_);
  std::vector<UnmovedOutput> unmoved_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::handover

#endif  // SHUFFLE_SERVER_HANDOVER_MOVES_H_
