#include "shuffle-server/dataplane/payload_budget.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace shuffle::dataplane {

PayloadBudget::PayloadBudget(uint64_t capacity) : capacity_(std::max<uint64_t>(capacity, 1)) {}

bool PayloadBudget::ReserveOrWait(uint64_t bytes, std::function<void()> on_grant,
                                  uint64_t* ticket) {
  absl::MutexLock lock(&mu_);
  if (waiters_.empty() && used_ + bytes <= capacity_) {
    used_ += bytes;
    high_water_ = std::max(high_water_, used_);
    return true;
  }
  *ticket = next_ticket_++;
  waiters_.push_back(Waiter{.ticket = *ticket, .bytes = bytes, .on_grant = std::move(on_grant)});
  return false;
}

bool PayloadBudget::Cancel(uint64_t ticket) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [ticket](const Waiter& w) { return w.ticket == ticket; });
  if (it == waiters_.end()) {
    return false;
  }
  waiters_.erase(it);
  return true;
}

void PayloadBudget::Release(uint64_t bytes) {
  std::vector<std::function<void()>> granted;
  {
    absl::MutexLock lock(&mu_);
    used_ -= std::min(bytes, used_);
    while (!waiters_.empty() && used_ + waiters_.front().bytes <= capacity_) {
      used_ += waiters_.front().bytes;
      granted.push_back(std::move(waiters_.front().on_grant));
      waiters_.pop_front();
    }
    high_water_ = std::max(high_water_, used_);
  }
  for (std::function<void()>& callback : granted) {
    callback();
  }
}

uint64_t PayloadBudget::used() const {
  absl::MutexLock lock(&mu_);
  return used_;
}

uint64_t PayloadBudget::high_water() const {
  absl::MutexLock lock(&mu_);
  return high_water_;
}

}  // namespace shuffle::dataplane
