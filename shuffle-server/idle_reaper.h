// IdleReaper: removes applications idle longer than a TTL (no push, commit, read or seal), every
// quarter of the TTL and at least every 5 minutes, on a thread of its own until destroyed.
// Thread-safe; the destructor stops and joins the thread.
#ifndef SHUFFLE_SERVER_IDLE_REAPER_H_
#define SHUFFLE_SERVER_IDLE_REAPER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/engine.h"

namespace shuffle::server {

class IdleReaper {
 public:
  // REQUIRES: `engine` outlives the reaper; ttl > 0.
  IdleReaper(storage::StorageEngine* engine, absl::Duration ttl);
  ~IdleReaper();
  IdleReaper(const IdleReaper&) = delete;
  IdleReaper& operator=(const IdleReaper&) = delete;

 private:
  void Run();

  storage::StorageEngine* const engine_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace shuffle::server

#endif  // SHUFFLE_SERVER_IDLE_REAPER_H_
