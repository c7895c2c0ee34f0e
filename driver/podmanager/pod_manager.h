// PodManager: the driver's executor pod manager. It keeps the requested number of executors
// running on a Backend: launches them, replaces those that die or are evicted (with new ids),
// scales up and down (releasing idle executors at once, since their shuffle output lives in the
// shuffle service, not in them), evicts on request, and tells the driver what happened through a
// Listener. An executor that keeps dying soon after launch is reported as fatal instead of being
// replaced forever.
//
// Thread-safe. Listener calls come from the backend's event thread, never under the manager's lock.
#ifndef SHUFFLE_DRIVER_PODMANAGER_POD_MANAGER_H_
#define SHUFFLE_DRIVER_PODMANAGER_POD_MANAGER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "driver/podmanager/backend.h"

namespace shuffle::podmanager {

struct PodManagerOptions {
  uint32_t executors = 3;
  uint32_t slots = 2;
  std::string driver_address;
  std::string secret;
  // An executor that ends on its own within `min_lifetime` of its launch counts as a launch
  // failure; this many in a row is fatal.
  uint32_t max_consecutive_failures = 6;
  std::chrono::milliseconds min_lifetime{3000};
};

class PodManager {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // An executor ended (evicted, crashed, released); its running tasks must be rescheduled.
    virtual void OnExecutorEnded(const BackendEvent& event) = 0;
    // A node's shuffle server is gone for good, with the map outputs it held.
    virtual void OnServerLost(const std::string& node) = 0;
    // A draining node's server handed these map outputs over to peers; its kServerLost follows.
    virtual void OnOutputsMoved(const std::string& node, const std::vector<MovedOutput>& moved) = 0;
    // Executors cannot be kept running (crash loop, no node left).
    virtual void OnFatal(const absl::Status& status) = 0;
  };

  struct Stats {
    uint64_t launched = 0;
    uint64_t evicted = 0;
    uint64_t failed = 0;    // ended on their own (crash, non-zero exit)
    uint64_t released = 0;  // released by ScaleTo (not counting Stop)
    uint64_t replaced = 0;
  };

  // REQUIRES: `backend` and `listener` outlive the manager.
  PodManager(Backend* backend, PodManagerOptions options, Listener* listener);
  ~PodManager();
  PodManager(const PodManager&) = delete;
  PodManager& operator=(const PodManager&) = delete;

  // Launches the initial executors.
  absl::Status Start();
  // Sets the target: launches executors, or releases running ones for which `is_idle` is true
  // (never a busy one) until the target is met or no idle one is left.
  absl::Status ScaleTo(uint32_t target, const std::function<bool(const std::string&)>& is_idle);
  // Evicts an executor now (SIGKILL locally, the Eviction API on Kubernetes).
  absl::Status Evict(const std::string& executor_id);
  // No more launches or replacements; every executor is released.
  void Stop();

  // Executors running and not being released.
  std::vector<std::string> Live() const;
  uint32_t target() const;
  Stats stats() const;

 private:
  void OnEvent(const BackendEvent& event);
  absl::Status LaunchOne() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Backend* const backend_;
  const PodManagerOptions options_;
  Listener* const listener_;

  mutable absl::Mutex mu_;
  uint32_t target_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::chrono::steady_clock::time_point> live_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> releasing_ ABSL_GUARDED_BY(mu_);  // asked to exit by ScaleTo
  uint32_t consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool fatal_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_POD_MANAGER_H_
