#include "shuffle-server/control/drainer.h"

#include <utility>

#include "shuffle/core/logging.h"

namespace shuffle::control {

using core::Kv;

Drainer::Drainer(storage::StorageEngine* engine, absl::Duration default_timeout)
    : engine_(engine), default_timeout_(default_timeout) {}

void Drainer::OnStart(std::function<void()> callback) {
  {
    absl::MutexLock lock(&mu_);
    if (!started_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

absl::StatusOr<storage::DrainReport> Drainer::Drain(absl::Time deadline) {
  std::vector<std::function<void()>> callbacks;
  {
    absl::MutexLock lock(&mu_);
    if (!started_) {
      started_ = true;
      callbacks.swap(callbacks_);
    }
  }
  if (!callbacks.empty()) {
    SHUFFLE_LOG(INFO) << "draining the server: refusing new writes, finishing commits in flight"
                      << Kv("timeout_s", absl::ToDoubleSeconds(deadline - absl::Now()));
  }
  for (const std::function<void()>& callback : callbacks) {
    callback();
  }
  absl::StatusOr<storage::DrainReport> report = engine_->Drain(deadline);
  if (!report.ok()) {
    SHUFFLE_LOG(WARNING) << "drain incomplete" << Kv("error", report.status().message());
  }
  return report;
}

}  // namespace shuffle::control
