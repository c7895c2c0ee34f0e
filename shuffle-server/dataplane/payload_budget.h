// PayloadBudget: the server-wide cap on request bytes (headers and payloads) buffered across all
// connections. A connection reserves a frame's size before reading its body; when the budget is
// exhausted the reservation waits in FIFO order and its callback runs once the bytes are granted.
//
// Thread-safe. Callbacks run on the thread that called Release() (or ReserveOrWait(), never: an
// immediate grant is reported by the return value), outside the internal lock; they must not
// block (post to a strand instead).
#ifndef SHUFFLE_SERVER_DATAPLANE_PAYLOAD_BUDGET_H_
#define SHUFFLE_SERVER_DATAPLANE_PAYLOAD_BUDGET_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shuffle::dataplane {

class PayloadBudget {
 public:
  explicit PayloadBudget(uint64_t capacity);
  PayloadBudget(const PayloadBudget&) = delete;
  PayloadBudget& operator=(const PayloadBudget&) = delete;

  // A request larger than the whole budget is clamped to it (it then waits for an empty budget
  // rather than forever). Callers reserve and release the clamped amount.
  uint64_t Clamp(uint64_t bytes) const { return bytes < capacity_ ? bytes : capacity_; }

  // Reserves `bytes` (already clamped) and returns true, or queues `on_grant` behind earlier
  // waiters, sets *ticket and returns false; `on_grant` then runs exactly once, after the bytes
  // were reserved for the caller, unless Cancel(*ticket) returned true first.
  bool ReserveOrWait(uint64_t bytes, std::function<void()> on_grant, uint64_t* ticket);

  // Withdraws a waiting reservation. False when it was already granted (its callback has run or
  // is about to): the caller then owns the bytes and must release them.
  bool Cancel(uint64_t ticket);

  void Release(uint64_t bytes);

  uint64_t used() const;
  uint64_t high_water() const;

 private:
  struct Waiter {
    uint64_t ticket;
    uint64_t bytes;
    std::function<void()> on_grant;
  };

  const uint64_t capacity_;
  mutable absl::Mutex mu_;
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t high_water_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_PAYLOAD_BUDGET_H_
