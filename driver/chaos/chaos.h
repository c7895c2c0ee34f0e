// Chaos: strikes a running job with planned faults from outside the job runner. It is the
// runner's tick (JobRunner::set_tick): every step it looks at the progress and injects each fault
// whose stage has reached its instant: evictions and executor kills through the runner
// (Evict, LiveExecutors, IsBusy), node-level faults through the cluster's FaultTarget. What it did,
// and the faults the job ended before, go into the report's fault lines.
//
// Not thread-safe: Step() runs on the runner's thread; read the lines after Run() returns.
#ifndef SHUFFLE_DRIVER_CHAOS_CHAOS_H_
#define SHUFFLE_DRIVER_CHAOS_CHAOS_H_

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "driver/chaos/fault_plan.h"
#include "driver/runner/job_runner.h"
#include "driver/scheduler/task_scheduler.h"

namespace shuffle::chaos {

struct ChaosOptions {
  std::vector<PlannedFault> faults;  // e.g. from PlanFaults (--chaos)
  // More evictions of busy executors, at instants of that stage drawn from `seed`.
  uint32_t evictions_during_map = 0;
  uint32_t evictions_during_reduce = 0;
  uint64_t seed = 1;  // those instants, and which node each fault strikes
  // Node-level faults; null: this cluster cannot inject them (reported as not injected).
  FaultTarget* target = nullptr;
};

class Chaos {
 public:
  // REQUIRES: `runner` outlives this object.
  Chaos(runner::JobRunner* runner, const ChaosOptions& options);
  Chaos(const Chaos&) = delete;
  Chaos& operator=(const Chaos&) = delete;

  // Makes Step() the runner's tick. Call before JobRunner::Run().
  void Attach();
  // Injects every planned fault that is due at progress `p`.
  void Step(const scheduler::Progress& p);
  // What was injected, in order ("[reduce 40%] kill-server on node-1"), then the faults the job
  // ended before ("... not reached: the job ended first").
  std::vector<std::string> Lines() const;

 private:
  absl::StatusOr<std::string> Inject(const PlannedFault& fault);
  // A busy executor (any live one when none is busy) not struck yet.
  absl::StatusOr<std::string> PickVictim();

  runner::JobRunner* const runner_;
  FaultTarget* const target_;
  std::vector<PlannedFault> plan_;  // still to inject, in order
  std::mt19937_64 random_;
  std::set<std::string> struck_;  // executors evicted or killed; they may not have ended yet
  std::vector<std::string> done_;
};

// The plan of `options`: its faults and its evictions, by stage, then instant.
std::vector<PlannedFault> FullPlan(const ChaosOptions& options);

// Runs the job with the faults of `options` and adds their lines to the report.
absl::StatusOr<runner::JobReport> RunWithChaos(runner::JobRunner& runner,
                                               const ChaosOptions& options);

}  // namespace shuffle::chaos

#endif  // SHUFFLE_DRIVER_CHAOS_CHAOS_H_
