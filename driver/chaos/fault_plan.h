// Chaos: faults injected into a running job on a schedule drawn from a seed, and the interface a
// cluster offers to inject the node-level ones. A plan says, for each fault, the stage (map or
// reduce) and the fraction of that stage's tasks done at which it strikes. Plain values and pure
// functions, thread-safe; FaultTarget implementations say their own.
#ifndef SHUFFLE_DRIVER_CHAOS_FAULT_PLAN_H_
#define SHUFFLE_DRIVER_CHAOS_FAULT_PLAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shuffle::chaos {

enum class FaultKind {
  kEvictExecutor,  // eviction of a busy executor (SIGKILL locally, the Eviction API on Kubernetes)
  kKillExecutor,   // an executor crash
  kKillServer,     // SIGKILL of a node's shuffle server; it is restarted (DaemonSet)
  kRestartServer,  // SIGTERM of a node's server (a rolling update): it drains and is restarted
  kDiskFull,       // a node's disk fills: its server refuses writes from then on
  kNodeLoss,       // a node's server is gone for good with its data
  kPartition,      // a node is cut off the network for a while, its processes running on
  kSlowDisk,       // a node's disk becomes slow (its throughput capped) for the rest of the job
  kNodeDrain,      // a node is drained: its server hands its map outputs over, then it is gone
  kNodeCrash,      // a node dies at once, its data left on the shared volume for a peer to adopt
};

std::string_view FaultName(FaultKind kind);

struct PlannedFault {
  FaultKind kind = FaultKind::kEvictExecutor;
  bool reduce_stage = false;
  double at = 0;  // fraction of the stage's tasks done, in [0.1, 0.8)
};

// "evict, kill-executor, ..., slow-disk": every kind's name.
std::string FaultNames();

// Parses "KIND=N[@map|@reduce],..." (KIND: one of FaultNames()); without a stage, each fault picks
// one at random. Instants are drawn from `seed`; the plan is sorted by stage, then instant.
// INVALID_ARGUMENT naming the bad part.
absl::StatusOr<std::vector<PlannedFault>> PlanFaults(std::string_view spec, uint64_t seed);

// What a cluster can do to itself. Implementations choose the node (or use `executor_id` for
// kKillExecutor) and return what they did ("kill-server on node-1").
class FaultTarget {
 public:
  virtual ~FaultTarget() = default;
  virtual absl::StatusOr<std::string> Inject(FaultKind kind, const std::string& executor_id,
                                             uint64_t random) = 0;
};

}  // namespace shuffle::chaos

#endif  // SHUFFLE_DRIVER_CHAOS_FAULT_PLAN_H_
