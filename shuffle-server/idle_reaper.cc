#include "shuffle-server/idle_reaper.h"

#include <algorithm>
#include <vector>

#include "shuffle/core/logging.h"

namespace shuffle::server {

IdleReaper::IdleReaper(storage::StorageEngine* engine, absl::Duration ttl)
    : engine_(engine), ttl_(ttl), thread_([this] { Run(); }) {}

IdleReaper::~IdleReaper() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void IdleReaper::Run() {
  const absl::Duration period = std::min(ttl_ / 4, absl::Minutes(5));
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), period)) {
    mu_.Unlock();
    absl::StatusOr<std::vector<core::AppId>> removed = engine_->RemoveIdleApplications(ttl_);
    if (!removed.ok()) {
      SHUFFLE_LOG(WARNING) << "idle-application cleanup failed"
                           << core::Kv("error", removed.status().message());
    }
    mu_.Lock();
  }
}

}  // namespace shuffle::server
