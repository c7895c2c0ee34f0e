#include "shuffle/core/gate.h"

#include "shuffle/core/logging.h"

namespace shuffle::core {

std::optional<Gate::Pass> Gate::TryEnter() {
  absl::MutexLock lock(&mu_);
  if (closed_) {
    return std::nullopt;
  }
  ++in_flight_;
  return Pass(this);
}

void Gate::Enter() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
}

void Gate::Leave() {
  absl::MutexLock lock(&mu_);
  SHUFFLE_CHECK(in_flight_ > 0) << "Gate::Leave without Enter";
  --in_flight_;
}

void Gate::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool Gate::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

int64_t Gate::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

bool Gate::AwaitIdle(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(this, &Gate::Idle), deadline);
}

}  // namespace shuffle::core
