// Chaos on the local cluster: a job runs while faults strike at instants drawn from a seed, and
// each test checks what DESIGN.md promises for that fault: the job completes, its output
// validates, and no map runs again beyond what the faults explain. The seed is printed on
// failure; SHUFFLE_CHAOS_SEED replays one, SHUFFLE_CHAOS_ROUNDS repeats each test (release
// checks: the `long` label runs more).
#include "driver/chaos/chaos.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include "driver/cli/clusters.h"
#include "driver/runner/job_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_pki.h"

namespace shuffle::chaos {
namespace {

namespace fs = std::filesystem;
using cli::Cluster;
using cli::DriverOptions;
using cli::StartLocalCluster;
using runner::JobOptions;
using runner::JobReport;
using runner::JobRunner;
using ::testing::AnyOf;
using ::testing::HasSubstr;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("shuffle-chaos-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override {
    if (!HasFailure()) {
      fs::remove_all(root_);
    } else {
      std::cerr << "logs kept in " << root_ << "\n";
    }
  }

  // Runs a sort job of `maps` x 8 MB into 48 partitions on 3 nodes with the faults of `plan`.
  JobReport Run(const std::vector<PlannedFault>& plan, uint64_t seed, uint32_t maps) {
    DriverOptions options = cluster_;
    options.work_dir = (root_ / std::to_string(seed)).string();
    options.nodes = 3;
    options.server_binary = SHUFFLE_SERVER_BINARY;
    options.executor_binary = SHUFFLE_EXECUTOR_BINARY;
    absl::StatusOr<Cluster> cluster = StartLocalCluster(options);
    EXPECT_TRUE(cluster.ok()) << cluster.status();
    if (!cluster.ok()) {
      return {};
    }
    JobOptions job;
    job.job = jobs::Job::MakeSpec("sort", seed, maps, 48, 80000);
    job.executors = 3;
    job.slots = 2;
    job.operator_secret = cluster->operator_secret;
    job.tls_ca_file = options.tls_ca_file;
    job.scheduler.replicas = options.replicas;
    job.adopt_lost_nodes = adopt_lost_nodes_;
    job.listen = cluster->listen;
    job.advertise_host = cluster->advertise_host;
    job.step_interval = std::chrono::milliseconds(20);
    job.timeout = std::chrono::seconds(300);
    JobRunner runner(cluster->backend.get(), job);
    ChaosOptions faults;
    faults.faults = plan;
    faults.seed = seed;
    faults.target = cluster->faults.get();
    absl::StatusOr<JobReport> report = RunWithChaos(runner, faults);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.value_or(JobReport{});
  }

  // Runs the job SHUFFLE_CHAOS_ROUNDS times (default 1), each with the faults of `chaos` (a
  // --chaos spec) at instants drawn from that round's seed, or at the instants of `fixed`.
  template <typename Check>
  void Rounds(const std::string& chaos, Check check, uint32_t maps = 24,
              const std::vector<PlannedFault>& fixed = {}) {
    const uint64_t first = EnvOr("SHUFFLE_CHAOS_SEED", 1000 + time(nullptr) % 1000);
    const uint64_t rounds = EnvOr("SHUFFLE_CHAOS_ROUNDS", 1);
    cluster_.chaos = chaos;  // a partition needs the cluster started with a node network
    for (uint64_t seed = first; seed < first + rounds && !HasFailure(); ++seed) {
      absl::StatusOr<std::vector<PlannedFault>> plan = PlanFaults(chaos, seed);
      ASSERT_TRUE(plan.ok()) << plan.status();
      if (!fixed.empty()) {
        plan = fixed;
      }
      JobReport report = Run(*plan, seed, maps);
      SCOPED_TRACE("seed " + std::to_string(seed) + "\n" + report.Render());
      EXPECT_TRUE(report.ok());
      EXPECT_EQ(report.faults.size(), plan->size());
      EXPECT_THAT(report.faults, ::testing::Each(::testing::Not(HasSubstr(" not "))))
          << "every planned fault must strike";
      EXPECT_EQ(report.unexplained_map_runs(), 0);
      check(report);
    }
  }

  fs::path root_;
  DriverOptions cluster_;  // the partition's length and the slow disk's speed
  bool adopt_lost_nodes_ = true;
};

TEST_F(ChaosTest, EvictionsInBothStagesReRunOnlyTheEvictedTasks) {
  Rounds("evict=2@map,evict=2@reduce", [](const JobReport& r) {
    EXPECT_EQ(r.pods.evicted, 4u);
    EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
    EXPECT_EQ(r.progress.map_task_failures, 0u);
    // Map runs beyond the partitions are exactly the maps the evicted executors were running.
    EXPECT_EQ(r.progress.map_attempts,
              r.job.num_maps() + r.progress.maps_requeued_for_lost_executors);
  });
}

TEST_F(ChaosTest, ServersKilledAndRestartedLoseNothingAcknowledged) {
  Rounds("kill-server=2,restart-server=1,kill-server=1@reduce", [](const JobReport& r) {
    // Every committed output survived its server's crash: none was recomputed.
    EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
  });
}

TEST_F(ChaosTest, ADiskFullNodeRefusesWritesAndTheJobCompletesElsewhere) {
  // Early in a longer map stage, so maps meet the full disk after the server's restart.
  const std::vector<PlannedFault> early = {
      {.kind = FaultKind::kDiskFull, .reduce_stage = false, .at = 0.15}};
  Rounds(
      "",
      [](const JobReport& r) {
        EXPECT_GE(r.progress.map_task_failures, 1u);
        ASSERT_EQ(r.progress.last_error_by_code.count("RESOURCE_EXHAUSTED"), 1u);
        const std::string& refusal = r.progress.last_error_by_code.at("RESOURCE_EXHAUSTED");
        EXPECT_THAT(refusal, AnyOf(HasSubstr("free"), HasSubstr("disk")));
        EXPECT_EQ(r.progress.nodes_excluded, 1u);
        EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);  // what it held is still served
      },
      /*maps=*/64, early);
}

TEST_F(ChaosTest, NodeLossReRunsOnlyThatNodesMaps) {
  Rounds("node-loss=1@reduce", [](const JobReport& r) {
    EXPECT_GT(r.progress.maps_rerun_for_lost_servers, 0u);
    EXPECT_LT(r.progress.maps_rerun_for_lost_servers, r.job.num_maps());
  });
}

// replicas=2 (docs/node-loss.md): a map is done only once its output is durable on its node's
// server and on another node's, so a node lost abruptly, server and data, costs no map re-run:
// the driver reads its outputs from their replicas. Map runs beyond the partitions are the maps
// the node's executors were running and those whose replica was on the node while they wrote.
void ExpectServedFromReplicas(const JobReport& r) {
  EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
  EXPECT_EQ(r.progress.maps_without_replica, 0u);
  ASSERT_EQ(r.faults.size(), 1u);
  EXPECT_THAT(r.faults[0], HasSubstr("node-loss on "));
}

TEST_F(ChaosTest, WithReplicasANodeLostInTheReduceStageCostsNoMapReRun) {
  cluster_.replicas = 2;
  Rounds("node-loss=1@reduce", [](const JobReport& r) {
    ExpectServedFromReplicas(r);
    EXPECT_GT(r.progress.maps_failed_over, 0u);              // the node held a third of the outputs
    EXPECT_EQ(r.progress.maps_rerun_for_lost_replicas, 0u);  // no map was writing
  });
}

TEST_F(ChaosTest, WithReplicasANodeLostInTheMapStageCostsNoMapReRun) {
  cluster_.replicas = 2;
  Rounds("node-loss=1@map", ExpectServedFromReplicas);
}

// A node that dies at once, its data on the shared volume every server mounts (node-crash; an
// RWX volume, docs/node-loss.md "Adoption"): the driver asks a serving server to adopt the
// node's directory, which it recovers and serves under the node's name; the node's outputs are
// read there and no map runs again for the lost server. Map runs beyond the partitions are
// exactly the maps the node's executors were running.
void ExpectEverythingAdopted(const JobReport& r) {
  EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
  EXPECT_EQ(r.progress.maps_failed_over, 0u);  // no replicas here
  ASSERT_EQ(r.faults.size(), 1u);
  EXPECT_THAT(r.faults[0], HasSubstr("node-crash on "));
  EXPECT_EQ(r.progress.map_attempts, r.job.num_maps() +
                                         r.progress.maps_requeued_for_lost_executors +
                                         r.progress.map_task_failures);
}

TEST_F(ChaosTest, ANodeCrashedInTheReduceStageIsAdoptedAndCostsNoMapReRun) {
  Rounds("node-crash=1@reduce", [](const JobReport& r) {
    ExpectEverythingAdopted(r);
    EXPECT_GT(r.progress.maps_adopted, 0u);  // the node held about a third of the outputs
  });
}

TEST_F(ChaosTest, ANodeCrashedInTheMapStageIsAdoptedAndCostsNoMapReRun) {
  Rounds("node-crash=1@map", ExpectEverythingAdopted);
}

// Without adoption the same crash re-runs the node's maps: what the two tests above save.
TEST_F(ChaosTest, WithoutAdoptionACrashedNodesMapsRunAgain) {
  adopt_lost_nodes_ = false;
  Rounds("node-crash=1@reduce", [](const JobReport& r) {
    EXPECT_GT(r.progress.maps_rerun_for_lost_servers, 0u);
    EXPECT_EQ(r.progress.maps_adopted, 0u);
  });
}

// A drained node (graceful hand-over, docs/node-loss.md): its server copies every committed map
// output to the other nodes before it goes, the driver learns their new places, and no map runs
// again for the lost node, in either stage.
void ExpectEverythingHandedOver(const JobReport& r) {
  EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
  EXPECT_GT(r.progress.maps_moved, 0u);
  ASSERT_EQ(r.faults.size(), 1u);
  EXPECT_THAT(r.faults[0], HasSubstr("node-drain of "));
  // Every output the node held was moved ("N of N map outputs moved").
  const std::string& line = r.faults[0];
  const size_t of = line.find(" of ", line.find(':'));
  ASSERT_NE(of, std::string::npos) << line;
  const size_t start = line.rfind(' ', of - 1) + 1;
  const std::string moved = line.substr(start, of - start);
  EXPECT_THAT(line, HasSubstr(moved + " of " + moved + " map outputs moved"));
  // Map runs beyond the partitions are exactly the maps the node's executors were running.
  EXPECT_EQ(r.progress.map_attempts, r.job.num_maps() +
                                         r.progress.maps_requeued_for_lost_executors +
                                         r.progress.map_task_failures);
}

TEST_F(ChaosTest, ANodeDrainedInTheReduceStageCostsNoMapReRun) {
  Rounds("node-drain=1@reduce", ExpectEverythingHandedOver);
}

TEST_F(ChaosTest, ANodeDrainedInTheMapStageCostsNoMapReRun) {
  Rounds("node-drain=1@map", ExpectEverythingHandedOver);
}

// The same hand-over with TLS on every server's planes, which then refuse plaintext: the
// driver's registrations, probes and seals, the executors' cross-node pushes and fetches, the
// decommission call and the hand-over to the peers all go through TLS (shuffle-driver
// --tls-cert-file, --tls-key-file, --tls-ca-file).
TEST_F(ChaosTest, ANodeDrainedWithTlsOnEveryServerCostsNoMapReRun) {
  fs::create_directories(root_ / "pki");
  testsupport::TestPki pki((root_ / "pki").string());
  const testsupport::IssuedCertificate cert = pki.Issue("server", {"127.0.0.1"});
  cluster_.tls_cert_file = cert.cert_file;
  cluster_.tls_key_file = cert.key_file;
  cluster_.tls_ca_file = pki.ca_file();
  Rounds("node-drain=1@reduce", ExpectEverythingHandedOver);
}

TEST_F(ChaosTest, ALongPartitionLosesOnlyThatNodesServerAndExecutors) {
  // Longer than readers' retries and the driver's probe: the server is declared lost, its maps
  // run again elsewhere, and the job does not wait for the network to heal.
  cluster_.partition_seconds = 120;
  Rounds("partition=1@reduce", [](const JobReport& r) {
    EXPECT_GT(r.progress.maps_rerun_for_lost_servers, 0u);
    EXPECT_LT(r.progress.maps_rerun_for_lost_servers, r.job.num_maps());
    EXPECT_LT(r.total_seconds, 120) << "the job finished before the partition healed";
  });
}

TEST_F(ChaosTest, AShortPartitionCostsTimeNotWork) {
  // Shorter than readers' retries (6 x 2 s connects, 15 s reads): TCP carries on once the link
  // is back, so no server or executor is declared lost and no task runs twice.
  cluster_.partition_seconds = 3;
  Rounds("partition=1@reduce", [](const JobReport& r) {
    EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
    EXPECT_EQ(r.progress.executors_lost, 0u);
    EXPECT_EQ(r.progress.map_attempts, r.job.num_maps());
  });
}

TEST_F(ChaosTest, ASlowDiskSlowsItsNodeButFailsNothing) {
  cluster_.slow_disk_mib_per_second = 16;
  Rounds("slow-disk=1@map", [](const JobReport& r) {
    EXPECT_EQ(r.progress.maps_rerun_for_lost_servers, 0u);
    EXPECT_EQ(r.progress.task_failures, 0u);
    EXPECT_EQ(r.progress.map_attempts, r.job.num_maps());
  });
}

TEST_F(ChaosTest, EverythingAtOnce) {
  Rounds(
      "evict=1,kill-executor=1,kill-server=1,restart-server=1,disk-full=1,node-loss=1,"
      "slow-disk=1",
      [](const JobReport&) {});
}

}  // namespace
}  // namespace shuffle::chaos
