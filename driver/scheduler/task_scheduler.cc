#include "driver/scheduler/task_scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shuffle/client/map_status.h"
#include "shuffle/core/logging.h"

namespace shuffle::scheduler {

using core::Kv;

TaskScheduler::TaskScheduler(const jobs::Job* job, core::ShuffleId shuffle,
                             SchedulerOptions options)
    : job_(job),
      shuffle_(shuffle),
      options_(options),
      maps_(job->num_maps()),
      reduces_(job->num_partitions()),
      summaries_(job->num_partitions()),
      registry_(shuffle, job->num_maps(), job->num_partitions()) {
  progress_.num_maps = job->num_maps();
  progress_.num_reduces = job->num_partitions();
}

void TaskScheduler::AddExecutor(const std::string& executor_id, const std::string& node,
                                uint32_t slots) {
  absl::MutexLock lock(&mu_);
  ExecutorState& e = executors_[executor_id];
  e.node = node;
  e.slots = std::max<uint32_t>(1, slots);
}

void TaskScheduler::RemoveExecutor(const std::string& executor_id, bool lost) {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  if (it == executors_.end()) {
    return;
  }
  for (uint32_t attempt : it->second.running) {
    auto a = attempts_.find(attempt);
    if (a == attempts_.end()) {
      continue;
    }
    Task& task =
        a->second.kind == proto::TASK_KIND_MAP ? maps_[a->second.index] : reduces_[a->second.index];
    if (task.state == State::kRunning && task.attempt == attempt) {
      task.state = State::kPending;
      ++progress_.tasks_requeued_for_lost_executors;
      progress_.maps_requeued_for_lost_executors += a->second.kind == proto::TASK_KIND_MAP ? 1 : 0;
    }
    attempts_.erase(a);
  }
  progress_.executors_lost += lost ? 1 : 0;
  executors_.erase(it);
}

std::string TaskScheduler::NodeOf(const std::string& executor_id) const {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  return it != executors_.end() ? it->second.node : "";
}

bool TaskScheduler::HasExecutor(const std::string& executor_id) const {
  absl::MutexLock lock(&mu_);
  return executors_.count(executor_id) != 0;
}

bool TaskScheduler::IsIdle(const std::string& executor_id) const {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  return it == executors_.end() || it->second.running.empty();
}

bool TaskScheduler::RetireIfIdle(const std::string& executor_id) {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  if (it == executors_.end() || !it->second.running.empty()) {
    return false;  // not registered yet, or busy
  }
  it->second.retired = true;
  return true;
}

proto::TaskSpec TaskScheduler::Launch(proto::TaskKind kind, uint32_t index,
                                      const std::string& executor_id) {
  const uint32_t attempt = next_attempt_++;
  Task& task = kind == proto::TASK_KIND_MAP ? maps_[index] : reduces_[index];
  task.state = State::kRunning;
  task.attempt = attempt;
  attempts_[attempt] = Attempt{kind, index, executor_id};
  executors_[executor_id].running.insert(attempt);
  proto::TaskSpec spec;
  spec.set_kind(kind);
  spec.set_index(index);
  spec.set_attempt(attempt);
  if (kind == proto::TASK_KIND_MAP) {
    ++progress_.map_attempts;
    if (options_.replicas > 1) {
      // Another node's server, the candidates in turn.
      const std::string& node = executors_[executor_id].node;
      std::vector<const ReplicaServer*> others;
      for (const ReplicaServer& s : replica_servers_) {
        if (s.node != node) {
          others.push_back(&s);
        }
      }
      if (others.empty()) {
        ++progress_.maps_without_replica;
      } else {
        spec.set_replica_server(others[next_replica_++ % others.size()]->data_address);
      }
    }
  } else {
    ++progress_.reduce_attempts;
    for (const client::MapStatus& s : registry_.Statuses()) {
      spec.add_map_statuses()->ParseFromString(s.Serialize());
    }
  }
  return spec;
}

bool TaskScheduler::NodeUsableLocked(const Task& task, const std::string& node) const {
  auto failures = node_failures_.find(node);
  const bool excluded =
      failures != node_failures_.end() && failures->second >= options_.max_node_failures;
  return !excluded && task.failed_nodes.count(node) == 0;
}

bool TaskScheduler::EligibleLocked(const Task& task, const std::string& node) const {
  if (NodeUsableLocked(task, node)) {
    return true;
  }
  // Excluded here: still eligible when no executor anywhere else could take it.
  for (const auto& [id, e] : executors_) {
    if (!e.retired && e.node != node && NodeUsableLocked(task, e.node)) {
      return false;
    }
  }
  return true;
}

std::optional<proto::TaskSpec> TaskScheduler::AssignLocked(const std::string& executor_id) {
  auto e = executors_.find(executor_id);
  if (e == executors_.end() || e->second.retired || e->second.running.size() >= e->second.slots) {
    return std::nullopt;
  }
  const std::string& node = e->second.node;
  for (uint32_t m = 0; m < maps_.size(); ++m) {
    if (maps_[m].state == State::kPending && EligibleLocked(maps_[m], node)) {
      return Launch(proto::TASK_KIND_MAP, m, executor_id);
    }
  }
  if (!registry_.Complete()) {
    return std::nullopt;
  }
  for (uint32_t r = 0; r < reduces_.size(); ++r) {
    if (reduces_[r].state == State::kPending && EligibleLocked(reduces_[r], node)) {
      return Launch(proto::TASK_KIND_REDUCE, r, executor_id);
    }
  }
  return std::nullopt;
}

bool TaskScheduler::CanAssignLocked(const std::string& executor_id) const {
  auto e = executors_.find(executor_id);
  if (e == executors_.end() || e->second.retired || e->second.running.size() >= e->second.slots) {
    return false;
  }
  const std::string& node = e->second.node;
  auto runnable = [&](const Task& t) ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return t.state == State::kPending && EligibleLocked(t, node);
  };
  return std::any_of(maps_.begin(), maps_.end(), runnable) ||
         (registry_.Complete() && std::any_of(reduces_.begin(), reduces_.end(), runnable));
}

TaskScheduler::PollResult TaskScheduler::Poll(const std::string& executor_id,
                                              std::chrono::milliseconds wait) {
  absl::MutexLock lock(&mu_);
  // The condition only reads state: absl may evaluate it any number of times, on any thread.
  auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return OverLocked() || executors_.count(executor_id) == 0 || CanAssignLocked(executor_id);
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(wait));
  PollResult result;
  if (OverLocked() || executors_.count(executor_id) == 0) {
    result.shutdown = true;
  } else {
    result.task = AssignLocked(executor_id);
  }
  return result;
}

void TaskScheduler::ReportFailure(const proto::ReportTaskRequest& report, const std::string& node,
                                  Task& task) {
  task.state = State::kPending;
  const char* kind = report.kind() == proto::TASK_KIND_MAP ? "map" : "reduce";
  if (report.outcome() == proto::TASK_OUTCOME_FETCH_FAILED) {
    ++progress_.fetch_failures;
    suspects_.push_back(report.failed_server());
    if (++task.fetch_failures > options_.max_fetch_failures) {
      status_ = absl::UnavailableError(
          absl::StrCat("reduce ", report.index(), " could not fetch its partition ",
                       task.fetch_failures, " times; the last error: ", report.error()));
    }
    return;
  }
  if (report.outcome() == proto::TASK_OUTCOME_REPLICA_FAILED) {
    // The map's second copy went with its server (often a node lost mid-write): run it again
    // with another replica, and let the driver check that server.
    ++progress_.maps_rerun_for_lost_replicas;
    suspects_.push_back(report.failed_server());
    if (++task.refusals > options_.max_refusals) {
      status_ = absl::UnavailableError(absl::StrCat("map ", report.index(),
                                                    " lost its replica server ", task.refusals,
                                                    " times; the last error: ", report.error()));
    }
    return;
  }
  ++progress_.task_failures;
  progress_.last_task_error = report.error();
  const auto code = static_cast<absl::StatusCode>(report.error_code());
  progress_.last_error_by_code[absl::StatusCodeToString(code)] = report.error();
  progress_.map_task_failures += report.kind() == proto::TASK_KIND_MAP ? 1 : 0;
  // A refusal by the node's shuffle server (UNAVAILABLE: restarting or draining, which a slow
  // disk can stretch to the drain timeout; RESOURCE_EXHAUSTED: its disk is full) is no fault of
  // the task: it does not count in max_task_failures but in a larger bound of its own. A full
  // disk counts against its node, which is then avoided; a restart does not.
  const bool refused =
      code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted;
  if (!node.empty() && code != absl::StatusCode::kUnavailable) {
    task.failed_nodes.insert(node);
    if (++node_failures_[node] == options_.max_node_failures) {
      ++progress_.nodes_excluded;
      SHUFFLE_LOG(WARNING) << "tasks keep failing on a node; it gets no more tasks while others can"
                           << Kv("node", node) << Kv("last_error", report.error());
    }
  }
  if (refused) {
    if (++task.refusals > options_.max_refusals) {
      status_ = absl::UnavailableError(absl::StrCat(kind, " task ", report.index(),
                                                    " was refused by its servers ", task.refusals,
                                                    " times; the last error: ", report.error()));
    }
    return;
  }
  if (++task.failures >= options_.max_task_failures) {
    status_ =
        absl::AbortedError(absl::StrCat(kind, " task ", report.index(), " failed ", task.failures,
                                        " times; the last error: ", report.error()));
  }
}

void TaskScheduler::Report(const proto::ReportTaskRequest& report) {
  absl::MutexLock lock(&mu_);
  const bool is_map = report.kind() == proto::TASK_KIND_MAP;
  std::vector<Task>& tasks = is_map ? maps_ : reduces_;
  if (report.index() >= tasks.size()) {
    return;
  }
  Task& task = tasks[report.index()];
  auto a = attempts_.find(report.attempt());
  const bool current = a != attempts_.end();
  std::string node;
  if (current) {
    auto e = executors_.find(a->second.executor);
    if (e != executors_.end()) {
      e->second.running.erase(report.attempt());
      node = e->second.node;
    }
    attempts_.erase(a);
  }
  if (report.outcome() == proto::TASK_OUTCOME_SUCCEEDED) {
    if (task.state == State::kDone) {
      return;
    }
    if (is_map) {
      absl::StatusOr<client::MapStatus> status =
          client::MapStatus::Parse(report.map_status().SerializeAsString());
      absl::StatusOr<bool> added =
          status.ok() ? registry_.Register(*status) : absl::StatusOr<bool>(status.status());
      if (!added.ok()) {
        status_ = absl::InternalError(absl::StrCat("map ", report.index(),
                                                   " reported an unusable "
                                                   "status: ",
                                                   added.status().message()));
        return;
      }
      // The second copy of the output registered now (not of one registered before).
      if (*added) {
        replicas_.erase(report.index());
        absl::StatusOr<client::MapStatus> replica =
            report.has_replica_status()
                ? client::MapStatus::Parse(report.replica_status().SerializeAsString())
                : absl::StatusOr<client::MapStatus>(absl::NotFoundError("one copy"));
        if (replica.ok() && replica->node != status->node) {
          replicas_[report.index()] = *std::move(replica);
        }
      }
      progress_.bytes_pushed = registry_.TotalBytes();
      progress_.map_stage_complete = registry_.Complete();
    } else {
      summaries_[report.index()] = report.reduce_summary();
      progress_.bytes_fetched += report.bytes_read();
    }
    task.state = State::kDone;
    if (!is_map) {
      bool all = true;
      for (const Task& r : reduces_) {
        all = all && r.state == State::kDone;
      }
      progress_.done = all;
    }
    return;
  }
  // A failure of an attempt that is no longer the running one changes nothing.
  if (current && task.state == State::kRunning && task.attempt == report.attempt()) {
    ReportFailure(report, node, task);
  }
}

std::vector<core::MapId> TaskScheduler::LoseServerOnNode(const std::string& node) {
  absl::MutexLock lock(&mu_);
  // Second copies on the lost node are gone.
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    it = it->second.node == node ? replicas_.erase(it) : std::next(it);
  }
  std::vector<core::MapId> lost;
  uint32_t failed_over = 0;
  for (core::MapId m : registry_.RemoveOutputsOnNode(node)) {
    auto replica = replicas_.find(m.value());
    if (replica != replicas_.end() && registry_.Register(replica->second).value_or(false)) {
      replicas_.erase(replica);  // now the only copy
      ++failed_over;
      continue;
    }
    lost.push_back(m);
    if (maps_[m.value()].state == State::kDone) {
      maps_[m.value()].state = State::kPending;
    }
  }
  progress_.maps_failed_over += failed_over;
  progress_.maps_rerun_for_lost_servers += lost.size();
  progress_.map_stage_complete = registry_.Complete();
  progress_.bytes_pushed = registry_.TotalBytes();
  SHUFFLE_LOG(WARNING) << "shuffle server lost; its map outputs without a replica will be "
                          "recomputed"
                       << Kv("node", node) << Kv("maps_rerun", lost.size())
                       << Kv("maps_from_replicas", failed_over);
  return lost;
}

uint32_t TaskScheduler::MoveOutputs(const std::string& from_node,
                                    const std::vector<client::MapStatus>& moved) {
  absl::MutexLock lock(&mu_);
  uint32_t count = 0;
  for (const client::MapStatus& status : moved) {
    if (status.shuffle != shuffle_) {
      continue;
    }
    // A second copy that lived on the draining node lives on where it went (unless that is
    // where the first copy is).
    auto replica = replicas_.find(status.map.value());
    if (replica != replicas_.end() && replica->second.node == from_node) {
      replicas_.erase(replica);
      const std::optional<client::MapStatus>& primary = registry_.Get(status.map);
      if (primary.has_value() && primary->node != status.node) {
        replicas_[status.map.value()] = status;
      }
      continue;
    }
    absl::StatusOr<bool> done = registry_.Move(from_node, status);
    if (!done.ok()) {
      SHUFFLE_LOG(WARNING) << "ignoring a moved map output"
                           << Kv("error", done.status().ToString());
      continue;
    }
    if (*done) {
      ++count;
      if (replica != replicas_.end() && replica->second.node == status.node) {
        replicas_.erase(replica);  // both copies on one node now: that is one copy
      }
      Task& task = maps_[status.map.value()];
      if (task.state == State::kPending) {
        task.state = State::kDone;  // lost before the news came: nothing to run again
      }
    }
  }
  progress_.maps_moved += count;
  progress_.map_stage_complete = registry_.Complete();
  progress_.bytes_pushed = registry_.TotalBytes();
  SHUFFLE_LOG(INFO) << "map outputs moved off a draining node" << Kv("node", from_node)
                    << Kv("maps", count);
  return count;
}

uint32_t TaskScheduler::AdoptOutputs(const std::string& lost_node, const std::string& adopter_node,
                                     const std::string& data_address,
                                     const std::string& control_address) {
  absl::MutexLock lock(&mu_);
  auto adopted = [&](client::MapStatus status) {
    status.node = adopter_node;
    status.address = data_address;
    status.control_address = control_address;
    return status;
  };
  for (auto& [map, replica] : replicas_) {
    if (replica.node == lost_node) {
      replica = adopted(replica);
    }
  }
  uint32_t count = 0;
  for (const client::MapStatus& status : registry_.Statuses()) {
    if (status.node != lost_node) {
      continue;
    }
    absl::StatusOr<bool> done = registry_.Move(lost_node, adopted(status));
    if (!done.ok() || !*done) {
      continue;
    }
    ++count;
  }
  // Both copies of a map on one node now (one adopted beside the other): that is one copy.
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    const std::optional<client::MapStatus>& primary = registry_.Get(core::MapId(it->first));
    it = primary.has_value() && primary->node == it->second.node ? replicas_.erase(it)
                                                                 : std::next(it);
  }
  progress_.maps_adopted += count;
  progress_.map_stage_complete = registry_.Complete();
  SHUFFLE_LOG(INFO) << "a lost node's map outputs were adopted; readers go to the adopter"
                    << Kv("node", lost_node) << Kv("adopted_by", adopter_node)
                    << Kv("address", data_address) << Kv("maps", count);
  return count;
}

void TaskScheduler::SetReplicaServers(std::vector<ReplicaServer> servers) {
  absl::MutexLock lock(&mu_);
  replica_servers_ = std::move(servers);
}

std::vector<std::string> TaskScheduler::TakeSuspectServers() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.swap(suspects_);
  return out;
}

void TaskScheduler::Fail(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (status_.ok()) {
    status_ = status;
  }
}

bool TaskScheduler::WaitUntilOver(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto over = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return OverLocked(); };
  return mu_.AwaitWithTimeout(absl::Condition(&over), absl::FromChrono(timeout));
}

absl::Status TaskScheduler::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

Progress TaskScheduler::progress() const {
  absl::MutexLock lock(&mu_);
  Progress p = progress_;
  p.executors = static_cast<uint32_t>(executors_.size());
  for (const Task& t : maps_) {
    p.maps_running += t.state == State::kRunning ? 1 : 0;
  }
  for (const Task& t : reduces_) {
    p.reduces_done += t.state == State::kDone ? 1 : 0;
    p.reduces_running += t.state == State::kRunning ? 1 : 0;
  }
  p.maps_done = registry_.registered();
  return p;
}

std::vector<std::string> TaskScheduler::Summaries() const {
  absl::MutexLock lock(&mu_);
  return summaries_;
}

}  // namespace shuffle::scheduler
