// MoveFollower: the reference driver's side of a server's hand-over (docs/node-loss.md) on any
// backend. A server whose node goes away (SIGTERM while cordoned, `shufflectl decommission`)
// copies its map outputs to peers and serves their new places (GetMovedOutputs) until it exits;
// this thread asks every serving node's server about once a second and re-points the
// scheduler's registry (TaskScheduler::MoveOutputs), so readers go to the new places and no map
// runs again. The local backend's DrainNode also delivers the moves as a kOutputsMoved event;
// applying a move twice is harmless (the registry keeps the first).
//
// Thread-safety: Start() and Stop() from one thread; the polling runs on its own thread.
#ifndef SHUFFLE_DRIVER_RUNNER_MOVE_FOLLOWER_H_
#define SHUFFLE_DRIVER_RUNNER_MOVE_FOLLOWER_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "driver/podmanager/backend.h"
#include "driver/runner/shuffle_tier.h"
#include "driver/scheduler/task_scheduler.h"

namespace shuffle::runner {

class MoveFollower {
 public:
  struct Options {
    std::chrono::milliseconds interval{1000};
    std::chrono::milliseconds call_timeout{1000};  // a server that does not answer is skipped
  };
  // Everything must outlive the follower. `is_lost` says whether the driver gave a node's
  // server up (it is not asked any more).
  MoveFollower(podmanager::Backend* backend, const ShuffleTier* tier, std::string token,
               scheduler::TaskScheduler* scheduler, std::function<bool(const std::string&)> is_lost,
               Options options);
  ~MoveFollower();  // Stop()
  MoveFollower(const MoveFollower&) = delete;
  MoveFollower& operator=(const MoveFollower&) = delete;

  void Start();
  void Stop();

 private:
  void Run();
  void PollOnce();

  podmanager::Backend* const backend_;
  const ShuffleTier* const tier_;
  const std::string token_;
  scheduler::TaskScheduler* const scheduler_;
  const std::function<bool(const std::string&)> is_lost_;
  const Options options_;
  std::map<std::string, size_t> applied_;  // per node: moves already handed to the scheduler
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace shuffle::runner

#endif  // SHUFFLE_DRIVER_RUNNER_MOVE_FOLLOWER_H_
