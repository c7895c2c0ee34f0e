#include "driver/scheduler/task_scheduler.h"

#include <memory>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shuffle/client/map_status.h"

namespace shuffle::scheduler {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr uint32_t kMaps = 6;
constexpr uint32_t kPartitions = 3;

class TaskSchedulerTest : public ::testing::Test {
 protected:
  TaskSchedulerTest()
      : job_(*jobs::Job::FromSpec(jobs::Job::MakeSpec("sort", 1, kMaps, kPartitions, 10))),
        scheduler_(job_.get(), core::ShuffleId(1),
                   SchedulerOptions{.max_task_failures = 3,
                                    .max_fetch_failures = 3,
                                    .max_refusals = 20,
                                    .max_node_failures = 2}) {}

  proto::TaskSpec Take(const std::string& executor) {
    TaskScheduler::PollResult r = scheduler_.Poll(executor, milliseconds(0));
    EXPECT_FALSE(r.shutdown);
    EXPECT_TRUE(r.task.has_value());
    return r.task.value_or(proto::TaskSpec());
  }

  proto::ReportTaskRequest Success(const proto::TaskSpec& task, const std::string& node) {
    proto::ReportTaskRequest report;
    report.set_kind(task.kind());
    report.set_index(task.index());
    report.set_attempt(task.attempt());
    report.set_outcome(proto::TASK_OUTCOME_SUCCEEDED);
    if (task.kind() == proto::TASK_KIND_MAP) {
      client::MapStatus s;
      s.node = node;
      s.address = node + ":7340";
      s.shuffle = core::ShuffleId(1);
      s.map = core::MapId(task.index());
      s.attempt = core::AttemptId(task.attempt());
      s.partition_bytes.assign(kPartitions, 100);
      s.partition_blocks.assign(kPartitions, 1);
      report.mutable_map_status()->ParseFromString(s.Serialize());
    } else {
      report.set_reduce_summary("summary");
      report.set_bytes_read(10);
    }
    return report;
  }

  proto::ReportTaskRequest Failure(const proto::TaskSpec& task, proto::TaskOutcome outcome) {
    proto::ReportTaskRequest report;
    report.set_kind(task.kind());
    report.set_index(task.index());
    report.set_attempt(task.attempt());
    report.set_outcome(outcome);
    report.set_error("boom");
    report.set_error_code(static_cast<int32_t>(absl::StatusCode::kInternal));
    if (outcome == proto::TASK_OUTCOME_FETCH_FAILED) {
      report.set_failed_server("b:7340");
    }
    return report;
  }

  // Runs every map: maps 0, 2, 4 on node "a", 1, 3, 5 on node "b".
  void RunMapStage() {
    for (uint32_t m = 0; m < kMaps; ++m) {
      proto::TaskSpec t = Take("e1");
      ASSERT_EQ(t.kind(), proto::TASK_KIND_MAP);
      scheduler_.Report(Success(t, t.index() % 2 == 0 ? "a" : "b"));
    }
    ASSERT_TRUE(scheduler_.progress().map_stage_complete);
  }

  std::unique_ptr<jobs::Job> job_;
  TaskScheduler scheduler_;
};

TEST_F(TaskSchedulerTest, ReducesWaitForEveryMapAndCarryTheirStatuses) {
  scheduler_.AddExecutor("e1", "a", 10);
  for (uint32_t m = 0; m < kMaps - 1; ++m) {
    scheduler_.Report(Success(Take("e1"), "a"));
  }
  proto::TaskSpec last = Take("e1");
  EXPECT_FALSE(scheduler_.Poll("e1", milliseconds(10)).task.has_value());  // the last map runs
  scheduler_.Report(Success(last, "a"));
  proto::TaskSpec reduce = Take("e1");
  EXPECT_EQ(reduce.kind(), proto::TASK_KIND_REDUCE);
  EXPECT_EQ(reduce.map_statuses_size(), static_cast<int>(kMaps));
}

TEST_F(TaskSchedulerTest, SlotsBoundWhatAnExecutorRuns) {
  scheduler_.AddExecutor("e1", "a", 2);
  Take("e1");
  Take("e1");
  EXPECT_FALSE(scheduler_.Poll("e1", milliseconds(10)).task.has_value());
}

TEST_F(TaskSchedulerTest, OnlyIdleExecutorsRetireAndARetiredOneGetsNoTask) {
  scheduler_.AddExecutor("e1", "a", 1);
  scheduler_.AddExecutor("e2", "a", 1);
  proto::TaskSpec t = Take("e1");
  EXPECT_FALSE(scheduler_.RetireIfIdle("e1"));
  EXPECT_FALSE(scheduler_.RetireIfIdle("unknown"));
  EXPECT_TRUE(scheduler_.RetireIfIdle("e2"));
  EXPECT_FALSE(scheduler_.Poll("e2", milliseconds(10)).task.has_value());
  scheduler_.Report(Success(t, "a"));
  EXPECT_TRUE(Take("e1").kind() == proto::TASK_KIND_MAP);
}

TEST_F(TaskSchedulerTest, ALostExecutorCostsOnlyItsRunningTasks) {
  scheduler_.AddExecutor("e1", "a", 10);
  scheduler_.AddExecutor("e2", "a", 10);
  RunMapStage();
  proto::TaskSpec r0 = Take("e2");
  proto::TaskSpec r1 = Take("e1");
  scheduler_.RemoveExecutor("e2", /*lost=*/true);
  Progress p = scheduler_.progress();
  EXPECT_EQ(p.maps_done, kMaps);  // committed outputs stay
  EXPECT_EQ(p.tasks_requeued_for_lost_executors, 1u);
  EXPECT_EQ(p.executors_lost, 1u);
  proto::TaskSpec again = Take("e1");
  EXPECT_EQ(again.index(), r0.index());
  EXPECT_NE(again.attempt(), r0.attempt());
  EXPECT_EQ(scheduler_.progress().map_attempts, kMaps);
  EXPECT_TRUE(scheduler_.Poll("e2", milliseconds(0)).shutdown);  // unknown now
  scheduler_.Report(Success(r1, "a"));
  scheduler_.Report(Success(again, "a"));
  scheduler_.Report(Success(Take("e1"), "a"));
  EXPECT_TRUE(scheduler_.progress().done);
  EXPECT_TRUE(scheduler_.Poll("e1", milliseconds(0)).shutdown);
}

TEST_F(TaskSchedulerTest, ALostServerSendsBackExactlyTheMapsItHeld) {
  scheduler_.AddExecutor("e1", "a", 10);
  RunMapStage();
  proto::TaskSpec reduce = Take("e1");
  std::vector<core::MapId> lost = scheduler_.LoseServerOnNode("b");
  ASSERT_EQ(lost.size(), 3u);
  EXPECT_FALSE(scheduler_.progress().map_stage_complete);
  scheduler_.Report(Failure(reduce, proto::TASK_OUTCOME_FETCH_FAILED));
  EXPECT_THAT(scheduler_.TakeSuspectServers(), ::testing::ElementsAre("b:7340"));
  for (int i = 0; i < 3; ++i) {
    proto::TaskSpec t = Take("e1");
    ASSERT_EQ(t.kind(), proto::TASK_KIND_MAP);
    EXPECT_EQ(t.index() % 2, 1u);
    scheduler_.Report(Success(t, "a"));
  }
  EXPECT_EQ(Take("e1").kind(), proto::TASK_KIND_REDUCE);
  Progress p = scheduler_.progress();
  EXPECT_EQ(p.map_attempts, kMaps + 3);
  EXPECT_EQ(p.maps_rerun_for_lost_servers, 3u);
  EXPECT_EQ(p.task_failures, 0u);
  EXPECT_EQ(p.fetch_failures, 1u);
}

// replicas=2: each map gets a replica server on another node than its executor's; a lost
// server's outputs are read from their replicas (no map re-runs) unless the replica's node is
// lost too; a map whose replica's server fails while it writes runs again, not counted as a
// failure, and that server becomes a suspect.
class ReplicatedSchedulerTest : public TaskSchedulerTest {
 protected:
  ReplicatedSchedulerTest()
      : replicated_(job_.get(), core::ShuffleId(1), SchedulerOptions{.replicas = 2}) {}

  // A success whose replica is on `replica_node`.
  proto::ReportTaskRequest Replicated(const proto::TaskSpec& task, const std::string& node,
                                      const std::string& replica_node) {
    proto::ReportTaskRequest report = Success(task, node);
    client::MapStatus replica = *client::MapStatus::Parse(report.map_status().SerializeAsString());
    replica.node = replica_node;
    replica.address = replica_node + ":7340";
    report.mutable_replica_status()->ParseFromString(replica.Serialize());
    return report;
  }

  TaskScheduler replicated_;
};

TEST_F(ReplicatedSchedulerTest, ALostServersOutputsAreReadFromTheirReplicas) {
  replicated_.SetReplicaServers({{.node = "a", .data_address = "a:7340"},
                                 {.node = "b", .data_address = "b:7340"},
                                 {.node = "c", .data_address = "c:7340"}});
  replicated_.AddExecutor("ea", "a", 10);
  // Maps 0-5 on node a, each with its replica on b or c (never a).
  std::set<std::string> replica_servers;
  for (uint32_t m = 0; m < kMaps; ++m) {
    proto::TaskSpec t = replicated_.Poll("ea", milliseconds(0)).task.value();
    ASSERT_EQ(t.kind(), proto::TASK_KIND_MAP);
    ASSERT_NE(t.replica_server(), "a:7340");
    ASSERT_FALSE(t.replica_server().empty());
    replica_servers.insert(t.replica_server());
    const std::string replica_node = t.replica_server().substr(0, 1);
    replicated_.Report(Replicated(t, "a", replica_node));
  }
  EXPECT_EQ(replica_servers, (std::set<std::string>{"b:7340", "c:7340"}));  // spread
  ASSERT_TRUE(replicated_.progress().map_stage_complete);

  // Node c goes first: the replicas there are gone, nothing to run.
  EXPECT_TRUE(replicated_.LoseServerOnNode("c").empty());
  // Then node a, the primaries': those with a replica on b are read from b, the others run again.
  std::vector<core::MapId> rerun = replicated_.LoseServerOnNode("a");
  Progress p = replicated_.progress();
  EXPECT_EQ(p.maps_failed_over + rerun.size(), kMaps);
  EXPECT_GT(p.maps_failed_over, 0u);
  EXPECT_GT(rerun.size(), 0u);
  EXPECT_EQ(p.maps_rerun_for_lost_servers, rerun.size());
  replicated_.AddExecutor("eb", "b", 10);
  for (size_t i = 0; i < rerun.size(); ++i) {
    proto::TaskSpec t = replicated_.Poll("eb", milliseconds(0)).task.value();
    ASSERT_EQ(t.kind(), proto::TASK_KIND_MAP);
    replicated_.Report(Success(t, "b"));
  }
  proto::TaskSpec reduce = replicated_.Poll("eb", milliseconds(0)).task.value();
  ASSERT_EQ(reduce.kind(), proto::TASK_KIND_REDUCE);
  for (const proto::MapStatus& s : reduce.map_statuses()) {
    EXPECT_EQ(s.node(), "b");  // failed over to b, or run again there
  }
}

TEST_F(ReplicatedSchedulerTest, AnAdoptedNodesOutputsAndReplicasAreReadAtTheAdopter) {
  replicated_.SetReplicaServers({{.node = "a", .data_address = "a:7340"},
                                 {.node = "b", .data_address = "b:7340"},
                                 {.node = "c", .data_address = "c:7340"}});
  replicated_.AddExecutor("ea", "a", 10);
  replicated_.AddExecutor("eb", "b", 10);
  // Maps alternate between nodes a and b; each one's replica on the other node or on c.
  for (uint32_t m = 0; m < kMaps; ++m) {
    const std::string executor = m % 2 == 0 ? "ea" : "eb";
    const std::string node = m % 2 == 0 ? "a" : "b";
    proto::TaskSpec t = replicated_.Poll(executor, milliseconds(0)).task.value();
    ASSERT_EQ(t.kind(), proto::TASK_KIND_MAP);
    replicated_.Report(Replicated(t, node, t.replica_server().substr(0, 1)));
  }
  ASSERT_TRUE(replicated_.progress().map_stage_complete);

  // Node a is lost; node c's server adopted its directory.
  const uint32_t adopted = replicated_.AdoptOutputs("a", "c", "c:40001", "c:40002");
  EXPECT_EQ(adopted, kMaps / 2);
  EXPECT_TRUE(replicated_.LoseServerOnNode("a").empty());  // nothing of node a left to re-run
  Progress p = replicated_.progress();
  EXPECT_EQ(p.maps_adopted, kMaps / 2);
  EXPECT_EQ(p.maps_rerun_for_lost_servers, 0u);
  EXPECT_EQ(p.maps_failed_over, 0u);
  EXPECT_TRUE(p.map_stage_complete);
  proto::TaskSpec reduce = replicated_.Poll("eb", milliseconds(0)).task.value();
  ASSERT_EQ(reduce.kind(), proto::TASK_KIND_REDUCE);
  for (const proto::MapStatus& s : reduce.map_statuses()) {
    if (s.map_id() % 2 == 0) {  // node a's: at the adopted address, held on node c
      EXPECT_EQ(s.address(), "c:40001");
      EXPECT_EQ(s.node(), "c");
    } else {
      EXPECT_EQ(s.node(), "b");
    }
  }
  // Node b is lost next: every output of b has its replica on node a (adopted, so now read at
  // c) or on c, and is read there.
  EXPECT_TRUE(replicated_.LoseServerOnNode("b").empty());
  EXPECT_EQ(replicated_.progress().maps_failed_over, kMaps / 2);
  // Then node c: a's adopted outputs and b's replicas were all there; a's replicas on c went
  // with their primaries' adoption (two copies on one node are one), so everything runs again.
  EXPECT_EQ(replicated_.LoseServerOnNode("c").size(), kMaps);
}

TEST_F(ReplicatedSchedulerTest, AMapWhoseReplicaFailedRunsAgainWithoutCountingAFailure) {
  replicated_.SetReplicaServers({{.node = "a", .data_address = "a:7340"}});
  replicated_.AddExecutor("ea", "a", 10);
  proto::TaskSpec alone = replicated_.Poll("ea", milliseconds(0)).task.value();
  EXPECT_TRUE(alone.replica_server().empty());  // no other node: one copy, and it says so
  EXPECT_EQ(replicated_.progress().maps_without_replica, 1u);

  replicated_.SetReplicaServers(
      {{.node = "a", .data_address = "a:7340"}, {.node = "b", .data_address = "b:7340"}});
  proto::TaskSpec t = replicated_.Poll("ea", milliseconds(0)).task.value();
  ASSERT_EQ(t.replica_server(), "b:7340");
  proto::ReportTaskRequest failed = Failure(t, proto::TASK_OUTCOME_REPLICA_FAILED);
  failed.set_failed_server("b:7340");
  replicated_.Report(failed);
  Progress p = replicated_.progress();
  EXPECT_EQ(p.maps_rerun_for_lost_replicas, 1u);
  EXPECT_EQ(p.task_failures, 0u);
  EXPECT_THAT(replicated_.TakeSuspectServers(), ::testing::ElementsAre("b:7340"));
}

TEST_F(TaskSchedulerTest, ALateSuccessOfAGivenUpMapAttemptStillCounts) {
  scheduler_.AddExecutor("e1", "a", 10);
  proto::TaskSpec map = Take("e1");
  scheduler_.RemoveExecutor("e1", /*lost=*/true);
  scheduler_.Report(Success(map, "a"));  // it committed before its executor died
  EXPECT_EQ(scheduler_.progress().maps_done, 1u);
  scheduler_.AddExecutor("e2", "a", 10);
  for (uint32_t m = 1; m < kMaps; ++m) {
    EXPECT_NE(Take("e2").index(), map.index());
  }
}

TEST_F(TaskSchedulerTest, TaskFailuresAreRetriedThenFailTheJob) {
  scheduler_.AddExecutor("e1", "a", 1);
  proto::TaskSpec first = Take("e1");
  scheduler_.Report(Failure(first, proto::TASK_OUTCOME_FAILED));
  EXPECT_TRUE(scheduler_.status().ok());
  proto::TaskSpec second = Take("e1");
  EXPECT_EQ(second.index(), first.index());
  scheduler_.Report(Failure(second, proto::TASK_OUTCOME_FAILED));
  EXPECT_TRUE(scheduler_.status().ok());
  proto::TaskSpec third = Take("e1");
  EXPECT_EQ(third.index(), first.index());
  scheduler_.Report(Failure(third, proto::TASK_OUTCOME_FAILED));
  EXPECT_EQ(scheduler_.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(scheduler_.status().message(), HasSubstr("map task 0 failed 3 times"));
  EXPECT_TRUE(scheduler_.WaitUntilOver(milliseconds(0)));
  EXPECT_TRUE(scheduler_.Poll("e1", milliseconds(0)).shutdown);
}

TEST_F(TaskSchedulerTest, AFailedTaskRunsElsewhereAndABadNodeIsAvoided) {
  scheduler_.AddExecutor("on-a", "a", 1);
  proto::TaskSpec first = Take("on-a");
  scheduler_.Report(Failure(first, proto::TASK_OUTCOME_FAILED));
  // Only node a has executors: the task may run there again rather than wait forever.
  proto::TaskSpec again = Take("on-a");
  EXPECT_EQ(again.index(), first.index());
  scheduler_.AddExecutor("on-b", "b", 1);
  scheduler_.Report(Failure(again, proto::TASK_OUTCOME_FAILED));  // node a: 2 failures
  EXPECT_EQ(scheduler_.progress().nodes_excluded, 1u);
  EXPECT_FALSE(scheduler_.Poll("on-a", milliseconds(10)).task.has_value());
  proto::TaskSpec moved = Take("on-b");
  EXPECT_EQ(moved.index(), first.index());  // the failed task went to node b first
  scheduler_.Report(Success(moved, "b"));
  // Node a stays excluded while node b can run tasks.
  EXPECT_FALSE(scheduler_.Poll("on-a", milliseconds(10)).task.has_value());
  scheduler_.RemoveExecutor("on-b", /*lost=*/true);
  EXPECT_TRUE(scheduler_.Poll("on-a", milliseconds(10)).task.has_value());
}

TEST_F(TaskSchedulerTest, RefusalsByARestartingServerDoNotExhaustTheTaskNorItsNode) {
  scheduler_.AddExecutor("on-a", "a", 1);
  proto::TaskSpec task = Take("on-a");
  const uint32_t index = task.index();
  // More refusals than max_task_failures (3): the server is draining, then restarting.
  for (int i = 0; i < 6; ++i) {
    proto::ReportTaskRequest refused = Failure(task, proto::TASK_OUTCOME_FAILED);
    refused.set_error_code(static_cast<int32_t>(absl::StatusCode::kUnavailable));
    scheduler_.Report(refused);
    EXPECT_TRUE(scheduler_.status().ok()) << scheduler_.status();
    task = Take("on-a");
    EXPECT_EQ(task.index(), index) << "it may run on the same node again";
  }
  EXPECT_EQ(scheduler_.progress().nodes_excluded, 0u) << "a restarting server's node is not bad";
  scheduler_.Report(Success(task, "a"));
  EXPECT_TRUE(scheduler_.status().ok());
}

TEST_F(TaskSchedulerTest, AFullDiskMovesTheTaskAndIsNotHeldAgainstIt) {
  scheduler_.AddExecutor("on-a", "a", 1);
  scheduler_.AddExecutor("on-b", "b", 1);
  proto::TaskSpec task = Take("on-a");
  const uint32_t index = task.index();
  for (int i = 0; i < 4; ++i) {  // 4 > max_task_failures, alternating nodes
    proto::ReportTaskRequest full = Failure(task, proto::TASK_OUTCOME_FAILED);
    full.set_error_code(static_cast<int32_t>(absl::StatusCode::kResourceExhausted));
    scheduler_.Report(full);
    EXPECT_TRUE(scheduler_.status().ok()) << scheduler_.status();
    task = Take(i % 2 == 0 ? "on-b" : "on-a");
    EXPECT_EQ(task.index(), index);
  }
  EXPECT_EQ(scheduler_.progress().nodes_excluded, 2u) << "both full nodes are avoided";
}

TEST_F(TaskSchedulerTest, RefusalsAreBoundedToo) {
  TaskScheduler scheduler(job_.get(), core::ShuffleId(1),
                          SchedulerOptions{.max_task_failures = 3,
                                           .max_fetch_failures = 3,
                                           .max_refusals = 4,
                                           .max_node_failures = 2});
  scheduler.AddExecutor("e1", "a", 1);
  for (int i = 0; i < 5; ++i) {
    TaskScheduler::PollResult r = scheduler.Poll("e1", milliseconds(0));
    ASSERT_TRUE(r.task.has_value());
    proto::ReportTaskRequest refused = Failure(*r.task, proto::TASK_OUTCOME_FAILED);
    refused.set_error_code(static_cast<int32_t>(absl::StatusCode::kUnavailable));
    scheduler.Report(refused);
  }
  EXPECT_EQ(scheduler.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(scheduler.status().message(), HasSubstr("refused by its servers 5 times"));
}

TEST_F(TaskSchedulerTest, FetchFailuresAreBoundedToo) {
  scheduler_.AddExecutor("e1", "a", 10);
  RunMapStage();
  for (int i = 0; i < 4; ++i) {
    proto::TaskSpec t = Take("e1");
    scheduler_.Report(Failure(t, proto::TASK_OUTCOME_FETCH_FAILED));
    if (t.index() != 0) {
      scheduler_.Report(Success(t, "a"));  // only reduce 0 keeps failing
      --i;
    }
  }
  EXPECT_EQ(scheduler_.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(scheduler_.status().message(), HasSubstr("could not fetch"));
}

TEST_F(TaskSchedulerTest, AFailureOfAStaleAttemptChangesNothing) {
  scheduler_.AddExecutor("e1", "a", 10);
  proto::TaskSpec map = Take("e1");
  scheduler_.RemoveExecutor("e1", /*lost=*/true);
  scheduler_.AddExecutor("e2", "a", 10);
  proto::TaskSpec retry = Take("e2");
  ASSERT_EQ(retry.index(), map.index());
  scheduler_.Report(Failure(map, proto::TASK_OUTCOME_FAILED));
  EXPECT_EQ(scheduler_.progress().task_failures, 0u);
  EXPECT_EQ(scheduler_.progress().maps_running, 1u);
}

}  // namespace
}  // namespace shuffle::scheduler
