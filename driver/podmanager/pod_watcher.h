// PodWatcher: keeps an up-to-date view of a label-selected set of pods from the Kubernetes API,
// the way a controller must: list, then watch from the list's resourceVersion; follow bookmarks;
// resume a broken watch from the last resourceVersion seen (relisting after 3 failures in a row);
// relist when the server answers 410 Gone (the version is too old); relist every `resync` period;
// and treat a DELETED event as the end of the pod whatever its status said. Each pod's changes
// reach the callback as a PodState; a pod that vanished between two lists is reported as ended
// ("pod deleted").
//
// The API calls go through PodSource, so the state machine is tested with a scripted source.
// Thread-safe: Run() on one thread, Stop() from any.
#ifndef SHUFFLE_DRIVER_PODMANAGER_POD_WATCHER_H_
#define SHUFFLE_DRIVER_PODMANAGER_POD_WATCHER_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "driver/podmanager/kube_pods.h"
#include "nlohmann/json.hpp"

namespace shuffle::podmanager {

class PodSource {
 public:
  struct List {
    std::vector<nlohmann::json> items;
    std::string resource_version;
  };
  // Watch events: type is ADDED, MODIFIED, DELETED or BOOKMARK. Return false to end the watch.
  using OnEvent = std::function<bool(const std::string& type, const nlohmann::json& object)>;

  virtual ~PodSource() = default;
  virtual absl::StatusOr<List> ListPods(const std::string& selector) = 0;
  // Streams events from `resource_version` until the server ends the watch (OK), `on_event`
  // returns false (OK), or an error. A too-old version must come back as OUT_OF_RANGE (HTTP 410,
  // or an ERROR event carrying a Status with code 410).
  virtual absl::Status WatchPods(const std::string& selector, const std::string& resource_version,
                                 const OnEvent& on_event) = 0;
};

struct PodWatcherOptions {
  std::string selector;
  std::chrono::milliseconds resync{std::chrono::minutes(5)};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
};

class PodWatcher {
 public:
  using OnChange = std::function<void(const PodState&)>;
  struct Stats {
    uint64_t lists = 0;
    uint64_t watches = 0;
    uint64_t relists_after_gone = 0;
    uint64_t bookmarks = 0;
    uint64_t errors = 0;
  };

  // REQUIRES: `source` outlives the watcher.
  PodWatcher(PodSource* source, PodWatcherOptions options, OnChange on_change);

  // Lists and watches until Stop(). Errors are retried with backoff (reported to the log and
  // in stats), never returned: a controller keeps going.
  void Run();
  void Stop();
  Stats stats() const;
  std::string resource_version() const;

 private:
  absl::Status ListOnce();
  bool Stopping() const;
  void Apply(const std::string& type, const nlohmann::json& object);
  void Sleep(std::chrono::milliseconds d);

  PodSource* const source_;
  const PodWatcherOptions options_;
  const OnChange on_change_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> known_ ABSL_GUARDED_BY(mu_);  // pod name -> ended
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_POD_WATCHER_H_
