// Gate: counts the operations in flight through a service and lets a stopping service wait until
// none is left (the "gate" of Seastar's orderly shutdown). An operation holds a Gate::Pass for its
// lifetime (or calls Enter() and Leave() itself when it spans callbacks); Close() makes TryEnter()
// refuse new operations; AwaitIdle() waits, bounded, for the count to reach zero. The gate does not
// close by itself: a service that must refuse work while it drains calls Close() first.
//
// Thread-safe: every method may be called from any thread. Leave() and a Pass's destruction never
// block. REQUIRES: the gate outlives every Pass.
#ifndef SHUFFLE_CORE_GATE_H_
#define SHUFFLE_CORE_GATE_H_

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace shuffle::core {

class Gate {
 public:
  // One operation in flight, counted from its creation to its destruction. Movable.
  class Pass {
   public:
    Pass(Pass&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Pass& operator=(Pass&& other) = delete;
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() {
      if (gate_ != nullptr) {
        gate_->Leave();
      }
    }

   private:
    friend class Gate;
    explicit Pass(Gate* gate) : gate_(gate) {}
    Gate* gate_;
  };

  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Counts an operation whether or not the gate is closed (work that must finish anyway, such as
  // an RPC the transport already accepted).
  Pass Hold() {
    Enter();
    return Pass(this);
  }
  // Counts an operation unless the gate is closed.
  std::optional<Pass> TryEnter() ABSL_LOCKS_EXCLUDED(mu_);

  // The unscoped form, for an operation that spans callbacks: every Enter() needs one Leave().
  void Enter() ABSL_LOCKS_EXCLUDED(mu_);
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);

  // TryEnter() refuses from now on. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  bool closed() const ABSL_LOCKS_EXCLUDED(mu_);

  // Operations in flight now.
  int64_t in_flight() const ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until no operation is in flight or `deadline` passes; true when none is.
  bool AwaitIdle(absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; }

  mutable absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_GATE_H_
