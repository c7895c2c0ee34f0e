// Drainer: the shuffle server's one draining procedure, run by the Drain RPC and on SIGTERM.
// The first drain runs the start callbacks (the control server turns health NOT_SERVING, so load
// balancers and probes stop sending work), then every drain runs StorageEngine::Drain: pushes,
// commits and shuffle registrations are refused with UNAVAILABLE "server draining", commits in
// flight finish, committed data is synced. Reads keep working. A server never leaves draining.
//
// Thread-safety: every method may be called from any thread; concurrent drains each wait.
#ifndef SHUFFLE_SERVER_CONTROL_DRAINER_H_
#define SHUFFLE_SERVER_CONTROL_DRAINER_H_

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/engine.h"

namespace shuffle::control {

class Drainer {
 public:
  // `engine` must outlive the drainer. `default_timeout` is used by callers that give none
  // (the server's --drain-timeout-seconds).
  Drainer(storage::StorageEngine* engine, absl::Duration default_timeout);
  Drainer(const Drainer&) = delete;
  Drainer& operator=(const Drainer&) = delete;

  // Adds a callback run once, when draining starts (at once when it has started already).
  void OnStart(std::function<void()> callback) ABSL_LOCKS_EXCLUDED(mu_);

  // Drains, waiting at most until `deadline` (see StorageEngine::Drain).
  absl::StatusOr<storage::DrainReport> Drain(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  bool draining() const { return engine_->draining(); }
  absl::Duration default_timeout() const { return default_timeout_; }

 private:
  storage::StorageEngine* const engine_;
  const absl::Duration default_timeout_;
  absl::Mutex mu_;
  std::vector<std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shuffle::control

#endif  // SHUFFLE_SERVER_CONTROL_DRAINER_H_
