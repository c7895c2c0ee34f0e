// TaskScheduler: the driver's job state and its failure semantics, without any I/O. It holds the
// map and reduce tasks of one job, the executors and what runs on each, and the shuffle registry
// of committed map outputs, and decides what runs next:
//  - a map task runs until its output is registered; reduce tasks run once every map's is;
//  - executor lost: only its running tasks go back to pending (committed outputs stay, so no
//    map re-runs unless the lost executor was running it);
//  - shuffle server lost for good: the maps whose outputs it held fall over to their replica on
//    another node (replicas=2), and only those without one are pending again;
//  - a reduce that fails to fetch is re-queued without counting as a task failure, and the
//    server it names becomes a suspect for the driver to check;
//  - a task that fails on its own is retried, and fails the job after max_task_failures; it is
//    not retried on a node where it failed, and a node where max_node_failures tasks failed gets
//    no tasks at all, as long as executors on other nodes can take them. UNAVAILABLE failures
//    (the node's server restarting) count against neither the node nor the task's placement.
//
// Thread-safe. Poll() blocks (bounded) until a task is ready for the caller.
#ifndef SHUFFLE_DRIVER_SCHEDULER_TASK_SCHEDULER_H_
#define SHUFFLE_DRIVER_SCHEDULER_TASK_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "driver/jobs/job.h"
#include "shuffle/client/shuffle_registry.h"
#include "shuffle/proto/driver.pb.h"

namespace shuffle::scheduler {

struct SchedulerOptions {
  uint32_t max_task_failures = 4;    // per task, failures of its own
  uint32_t max_fetch_failures = 20;  // per reduce task
  // Per task: refusals by its node's server (UNAVAILABLE: restarting or draining;
  // RESOURCE_EXHAUSTED: disk full), which are no fault of the task and do not count in
  // max_task_failures.
  uint32_t max_refusals = 20;
  // A node where this many tasks failed on their own (e.g. its shuffle server refuses writes: disk
  // full) gets no more tasks while executors elsewhere can take them.
  uint32_t max_node_failures = 2;
  // Copies of each map output, on different nodes' servers: 1, or 2 (every map task pushes to
  // its node's server and to a replica server the scheduler picks; see SetReplicaServers).
  uint32_t replicas = 1;
};

// A server a map task may put its second copy on.
struct ReplicaServer {
  std::string node;
  std::string data_address;
};

// Counters and gauges for the progress display and the final report.
struct Progress {
  uint32_t num_maps = 0;
  uint32_t num_reduces = 0;
  uint32_t maps_done = 0;  // outputs registered
  uint32_t maps_running = 0;
  uint32_t reduces_done = 0;
  uint32_t reduces_running = 0;
  uint32_t executors = 0;
  uint64_t map_attempts = 0;  // map task executions started
  uint64_t reduce_attempts = 0;
  uint64_t maps_rerun_for_lost_servers = 0;
  uint64_t maps_moved = 0;        // outputs handed over by draining nodes' servers
  uint64_t maps_failed_over = 0;  // outputs of lost servers served from their replica instead
  uint64_t maps_adopted = 0;      // outputs of lost servers served by the server that adopted them
  // Map attempts run again because their replica's server failed while they wrote.
  uint64_t maps_rerun_for_lost_replicas = 0;
  // replicas=2: map attempts launched with one copy, for want of a serving server on another
  // node.
  uint64_t maps_without_replica = 0;
  uint64_t tasks_requeued_for_lost_executors = 0;
  uint64_t maps_requeued_for_lost_executors = 0;  // of the above, map tasks
  uint64_t task_failures = 0;
  uint64_t map_task_failures = 0;  // of the above, map tasks
  std::string last_task_error;     // of the last task that failed on its own
  // The last error of each status code among tasks that failed on their own ("UNAVAILABLE"...).
  std::map<std::string, std::string> last_error_by_code;
  uint64_t fetch_failures = 0;
  uint64_t executors_lost = 0;
  uint32_t nodes_excluded = 0;  // see SchedulerOptions::max_node_failures
  uint64_t bytes_pushed = 0;    // encoded bytes of registered map outputs
  uint64_t bytes_fetched = 0;   // encoded bytes fetched by successful reduces
  bool map_stage_complete = false;
  bool done = false;
};

class TaskScheduler {
 public:
  TaskScheduler(const jobs::Job* job, core::ShuffleId shuffle, SchedulerOptions options);

  void AddExecutor(const std::string& executor_id, const std::string& node, uint32_t slots);
  // Forgets an executor; its running tasks are pending again. `lost`: it ended unasked (counted
  // in Progress::executors_lost), not released. Unknown ids are ignored.
  void RemoveExecutor(const std::string& executor_id, bool lost);
  bool HasExecutor(const std::string& executor_id) const;
  // The node an executor runs on ("" when unknown).
  std::string NodeOf(const std::string& executor_id) const;
  bool IsIdle(const std::string& executor_id) const;
  // If the executor is registered and runs nothing, it gets no more tasks (it is about to be
  // released) and true is returned; atomic, so no task is assigned between check and release.
  bool RetireIfIdle(const std::string& executor_id);

  struct PollResult {
    bool shutdown = false;  // the job is over, or the executor is unknown
    std::optional<proto::TaskSpec> task;
  };
  // A task for the executor, waiting up to `wait` for one.
  PollResult Poll(const std::string& executor_id, std::chrono::milliseconds wait);
  // Records the outcome of a task attempt. Reports of attempts already given up on (their
  // executor was declared lost) still count when they succeeded: a committed map output is valid.
  void Report(const proto::ReportTaskRequest& report);

  // A shuffle server is gone for good: its outputs are forgotten and those maps are pending.
  // Returns the maps to re-run.
  std::vector<core::MapId> LoseServerOnNode(const std::string& node);
  // A draining node's server handed these outputs over to peers (ShuffleRegistry::Move): readers
  // are given the new places from now on, and a map whose output was already lost is done
  // again. Statuses of another shuffle are ignored. Returns the outputs moved.
  uint32_t MoveOutputs(const std::string& from_node, const std::vector<client::MapStatus>& moved);
  // A lost node's data directory was adopted by the server on `adopter_node` (shared volume,
  // docs/node-loss.md): every output (and second copy) the lost node held is read at
  // `data_address` from now on, and counts as held on `adopter_node` (whose loss it would
  // share). Call before LoseServerOnNode(lost_node), which then finds nothing of it to re-run.
  // Returns the outputs re-pointed.
  uint32_t AdoptOutputs(const std::string& lost_node, const std::string& adopter_node,
                        const std::string& data_address, const std::string& control_address);
  // replicas=2: the servers that may hold second copies (the serving ones; the driver updates
  // them as servers come and go). A map task gets one on another node than its executor's.
  void SetReplicaServers(std::vector<ReplicaServer> servers);
  // Data-plane addresses named by fetch failures since the last call.
  std::vector<std::string> TakeSuspectServers();

  // Ends the job with an error; every Poll() answers shutdown.
  void Fail(const absl::Status& status);
  // Blocks until the job is done or failed, or `timeout` passes; true when it is over.
  bool WaitUntilOver(std::chrono::milliseconds timeout);
  absl::Status status() const;
  Progress progress() const;
  // The reduce summaries by partition. REQUIRES: progress().done.
  std::vector<std::string> Summaries() const;

 private:
  enum class State { kPending, kRunning, kDone };
  struct Task {
    State state = State::kPending;
    uint32_t attempt = 0;  // of the running attempt
    uint32_t failures = 0;
    uint32_t fetch_failures = 0;
    uint32_t refusals = 0;
    std::set<std::string> failed_nodes;  // nodes where it failed (or was refused)
  };
  struct Attempt {
    proto::TaskKind kind;
    uint32_t index;
    std::string executor;
  };
  struct ExecutorState {
    std::string node;
    uint32_t slots = 1;
    bool retired = false;
    std::set<uint32_t> running;
  };

  bool CanAssignLocked(const std::string& executor_id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::optional<proto::TaskSpec> AssignLocked(const std::string& executor_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  proto::TaskSpec Launch(proto::TaskKind kind, uint32_t index, const std::string& executor_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportFailure(const proto::ReportTaskRequest& report, const std::string& node, Task& task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `task` may run on `node` (see the exclusion rules above).
  bool EligibleLocked(const Task& task, const std::string& node) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool NodeUsableLocked(const Task& task, const std::string& node) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool OverLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !status_.ok() || progress_.done;
  }

  const jobs::Job* const job_;
  const core::ShuffleId shuffle_;
  const SchedulerOptions options_;

  mutable absl::Mutex mu_;
  std::vector<Task> maps_ ABSL_GUARDED_BY(mu_);
  std::vector<Task> reduces_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> summaries_ ABSL_GUARDED_BY(mu_);
  client::ShuffleRegistry registry_ ABSL_GUARDED_BY(mu_);
  // replicas=2: the second copy of each registered map output, by map, on another node than the
  // registry's.
  std::map<uint32_t, client::MapStatus> replicas_ ABSL_GUARDED_BY(mu_);
  std::vector<ReplicaServer> replica_servers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_replica_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint32_t, Attempt> attempts_ ABSL_GUARDED_BY(mu_);  // running attempts
  std::map<std::string, ExecutorState> executors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> suspects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint32_t> node_failures_ ABSL_GUARDED_BY(mu_);
  uint32_t next_attempt_ ABSL_GUARDED_BY(mu_) = 1;
  Progress progress_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::scheduler

#endif  // SHUFFLE_DRIVER_SCHEDULER_TASK_SCHEDULER_H_
