// JobRunner: runs one job end to end on a Backend. It starts the driver's gRPC service, registers
// the application and its shuffle on every node's shuffle server, starts executors through the
// PodManager, and then watches: it seals the shuffle when the map stage is done, reacts to lost
// executors and lost servers (through the TaskScheduler's failure semantics), scales executors,
// shows progress, validates the output, removes the application's data, and reports. Faults are
// injected from outside: the tick hook (set_tick) sees the progress every step, and Evict(),
// LiveExecutors() and IsBusy() let a fault injector (driver/chaos) strike executors.
//
// One Run() per runner; not thread-safe apart from what Run() itself starts. The tick runs on
// Run()'s thread; Evict(), LiveExecutors() and IsBusy() may be called from it.
#ifndef SHUFFLE_DRIVER_RUNNER_JOB_RUNNER_H_
#define SHUFFLE_DRIVER_RUNNER_JOB_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "driver/podmanager/pod_manager.h"
#include "driver/scheduler/task_scheduler.h"
#include "grpcpp/server.h"
#include "shuffle/proto/driver.pb.h"

namespace shuffle::runner {

struct JobOptions {
  proto::JobSpec job;
  uint32_t executors = 3;
  uint32_t slots = 2;
  std::string app_namespace = "default";
  std::string operator_secret;  // registers the application with the shuffle servers
  // Instead of operator_secret: a file read at every registration (a rotated service-account
  // token on Kubernetes).
  std::string identity_token_file;
  std::string tls_ca_file;      // the servers' CA: their control planes are reached through TLS
  std::string tls_server_name;  // the name on their certificate; empty: the host dialled
  std::string listen = "127.0.0.1:0";            // the driver's gRPC service
  std::string advertise_host;                    // how executors reach it; empty: the --listen host
  std::string app_id;                            // empty: a new random id
  bool show_progress = false;                    // a live progress display on stdout
  std::chrono::milliseconds step_interval{200};  // how often the runner looks at the job
  // Dynamic allocation: release idle executors at once when fewer tasks remain than slots (their
  // shuffle output lives in the servers), and scale back up to `executors` when work returns.
  bool dynamic_allocation = true;
  std::chrono::seconds timeout{3600};
  std::chrono::milliseconds executor_silence_timeout{30000};
  // When a server is lost, ask a serving one to adopt its node's data directory from the shared
  // volume they mount (ShuffleControl.Adopt; docs/node-loss.md) before re-running its maps; how
  // long its recovery may take.
  bool adopt_lost_nodes = true;
  std::chrono::milliseconds adopt_timeout{60000};
  scheduler::SchedulerOptions scheduler;
};

struct JobReport {
  proto::JobSpec job;
  absl::Status status;      // the job ran to the end (or why not)
  absl::Status validation;  // the output matched the regenerated input
  scheduler::Progress progress;
  podmanager::PodManager::Stats pods;
  uint32_t evictions = 0;           // executors evicted through Evict()
  std::vector<std::string> faults;  // what was injected, when (added by the injector)
  uint32_t nodes = 0;
  uint32_t executors = 0;
  uint32_t slots = 0;
  uint64_t input_bytes = 0;
  double map_seconds = 0;
  double reduce_seconds = 0;
  double total_seconds = 0;
  uint64_t freed_bytes = 0;

  bool ok() const { return status.ok() && validation.ok(); }
  // Map task executions that no fault explains: those beyond the map partitions plus the maps
  // requeued from lost executors, those of lost servers and the retries of failed maps. 0 is the
  // promise.
  int64_t unexplained_map_runs() const;
  std::string Render() const;  // the human report
};

class DriverService;
class ShuffleTier;
struct ApplicationInfo;

// "job-" and 12 random hex digits: a DNS label, usable as a pod label value.
std::string NewAppId();

class JobRunner final : public podmanager::PodManager::Listener {
 public:
  // Called every step_interval from Run()'s thread with the current progress: how tests and the
  // fault injector (driver/chaos) act at a chosen point of the job.
  using Tick = std::function<void(const scheduler::Progress&)>;

  // REQUIRES: `backend` outlives the runner; its servers are up.
  JobRunner(podmanager::Backend* backend, JobOptions options);
  ~JobRunner() override;

  void set_tick(Tick tick) { tick_ = std::move(tick); }
  // INVALID_ARGUMENT for a bad job spec; UNAVAILABLE when no server can be prepared. Job
  // failures are in the report.
  absl::StatusOr<JobReport> Run();

  // While Run() runs: the executors alive now, whether one is running a task, and an eviction
  // (counted in JobReport::evictions).
  std::vector<std::string> LiveExecutors() const;
  // The progress now (the tick's argument is a snapshot taken at the step's start).
  scheduler::Progress progress() const { return scheduler_->progress(); }
  bool IsBusy(const std::string& executor_id) const;
  absl::Status Evict(const std::string& executor_id);

  // PodManager::Listener
  void OnExecutorEnded(const podmanager::BackendEvent& event) override;
  void OnServerLost(const std::string& node) override;
  void OnOutputsMoved(const std::string& node,
                      const std::vector<podmanager::MovedOutput>& moved) override;
  void OnFatal(const absl::Status& status) override;

 private:
  struct Watch;
  struct Prepared {
    std::string token;   // the application's token (the same on every server)
    uint32_t nodes = 0;  // servers the application and shuffle are registered on
  };
  // Registers the application and its shuffle on every server that is up.
  absl::StatusOr<Prepared> PrepareServers(const ShuffleTier& tier, core::ShuffleId shuffle);
  // Serves executors; the address they reach it at.
  absl::StatusOr<std::string> StartService(const ApplicationInfo& app,
                                           std::unique_ptr<grpc::Server>* server);
  // After the job: stops the executors, validates, removes the application's data, reports.
  JobReport Finish(Watch& watch, uint32_t nodes);
  void Step(Watch& watch);
  // replicas=2: tells the scheduler which servers may take second copies (the serving ones on
  // nodes that are not leaving).
  void OfferReplicaServers();
  void SealWhenMapsDone(Watch& watch, const scheduler::Progress& p);
  void CheckSuspectsAndSilence(const Watch& watch);
  void Allocate(const scheduler::Progress& p);
  void LoseServer(const std::string& node);
  // Asks the serving servers, in turn, to adopt `node`'s data directory; the scheduler re-points
  // that node's outputs to the adopter. Whether one did.
  bool AdoptLostNode(const std::string& node);
  bool IsLost(const std::string& node);

  podmanager::Backend* const backend_;
  const JobOptions options_;
  Tick tick_;
  std::unique_ptr<jobs::Job> job_;
  std::unique_ptr<scheduler::TaskScheduler> scheduler_;
  std::unique_ptr<DriverService> service_;
  std::unique_ptr<podmanager::PodManager> pods_;
  std::string app_id_;                 // set by Run()
  std::unique_ptr<ShuffleTier> tier_;  // set by Run(), before any executor starts
  std::string token_;                  // the application's token, set with tier_

  absl::Mutex mu_;
  std::set<std::string> lost_nodes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unreachable_nodes_ ABSL_GUARDED_BY(mu_);  // lost to a failed probe
  uint32_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
  // Control planes of adopted nodes' directories the job's outputs are read from (the
  // application is removed there too at the end).
  std::vector<std::string> adopted_control_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::runner

#endif  // SHUFFLE_DRIVER_RUNNER_JOB_RUNNER_H_
