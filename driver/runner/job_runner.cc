#include "driver/runner/job_runner.h"

#include <algorithm>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "driver/runner/driver_service.h"
#include "driver/runner/move_follower.h"
#include "driver/runner/progress.h"
#include "driver/runner/shuffle_tier.h"
#include "grpcpp/grpcpp.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::runner {
namespace {

using core::Kv;
using Clock = std::chrono::steady_clock;

std::string RandomHex(std::mt19937_64& rng, size_t bytes) {
  std::string raw(bytes, '\0');
  for (char& c : raw) {
    c = static_cast<char>(rng());
  }
  return absl::BytesToHexString(raw);
}

// How long the driver waits for a suspect server's health check.
constexpr auto kProbeTimeout = std::chrono::seconds(2);
// How long an executor on a node the driver cannot reach may be silent before it is lost.
constexpr auto kSilenceOnUnreachableNode = std::chrono::seconds(5);

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string NewAppId() {
  std::random_device entropy;
  std::mt19937_64 rng((static_cast<uint64_t>(entropy()) << 32) ^ entropy());
  return "job-" + RandomHex(rng, 6);
}

// What Run() watches between steps.
struct JobRunner::Watch {
  const ShuffleTier* tier = nullptr;
  std::string token;
  core::ShuffleId shuffle{1};
  Clock::time_point start;
  Clock::time_point map_done;
  bool sealed = false;
  ProgressDisplay* display = nullptr;
};

JobRunner::JobRunner(podmanager::Backend* backend, JobOptions options)
    : backend_(backend), options_(std::move(options)) {}

JobRunner::~JobRunner() {
  pods_.reset();  // detaches from the backend's events before the scheduler goes
}

absl::StatusOr<JobRunner::Prepared> JobRunner::PrepareServers(const ShuffleTier& tier,
                                                              core::ShuffleId shuffle) {
  Prepared prepared;
  for (const podmanager::NodeInfo& node : backend_->Nodes()) {
    if (!node.server_up) {
      continue;
    }
    SHUFFLE_ASSIGN_OR_RETURN(
        std::string token,
        tier.Prepare(node.control_address, shuffle, job_->num_maps(), job_->num_partitions()));
    if (prepared.nodes++ > 0 && token != prepared.token) {
      return absl::FailedPreconditionError(
          absl::StrCat("the shuffle server on ", node.name,
                       " issued another token than the others: every server of a cluster must "
                       "share one token secret"));
    }
    prepared.token = std::move(token);
  }
  if (prepared.nodes == 0) {
    return absl::UnavailableError("no shuffle server is up to run the job on");
  }
  return prepared;
}

absl::StatusOr<std::string> JobRunner::StartService(const ApplicationInfo& app,
                                                    std::unique_ptr<grpc::Server>* server) {
  service_ = std::make_unique<DriverService>(app, scheduler_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  *server = builder.BuildAndStart();
  if (*server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen, " for executors (--listen)"));
  }
  absl::StatusOr<core::Endpoint> listen = core::Endpoint::Parse(options_.listen);
  if (!options_.advertise_host.empty()) {
    return core::Endpoint::Tcp(options_.advertise_host, static_cast<uint16_t>(port)).ToString();
  }
  if (!listen.ok()) {
    return core::Annotate(listen.status(), "the driver's --listen");
  }
  return listen->WithPort(static_cast<uint16_t>(port)).ToString();
}

absl::StatusOr<JobReport> JobRunner::Run() {
  SHUFFLE_ASSIGN_OR_RETURN(job_, jobs::Job::FromSpec(options_.job));
  const std::string app_id = options_.app_id.empty() ? NewAppId() : options_.app_id;
  app_id_ = app_id;
  const core::ShuffleId shuffle(1);
  scheduler_ = std::make_unique<scheduler::TaskScheduler>(job_.get(), shuffle, options_.scheduler);
  tier_ = std::make_unique<ShuffleTier>(app_id, options_.app_namespace, options_.operator_secret,
                                        options_.identity_token_file, options_.tls_ca_file,
                                        options_.tls_server_name);
  const ShuffleTier& tier = *tier_;
  SHUFFLE_ASSIGN_OR_RETURN(const Prepared prepared, PrepareServers(tier, shuffle));
  token_ = prepared.token;
  OfferReplicaServers();

  std::random_device entropy;
  std::mt19937_64 ids((static_cast<uint64_t>(entropy()) << 32) ^ entropy());
  const ApplicationInfo app{.app_id = app_id,
                            .app_token = prepared.token,
                            .shuffle = shuffle,
                            .job = options_.job,
                            .secret = RandomHex(ids, 16)};
  std::unique_ptr<grpc::Server> server;
  SHUFFLE_ASSIGN_OR_RETURN(const std::string driver_address, StartService(app, &server));
  SHUFFLE_LOG(INFO) << "driver listening" << Kv("address", driver_address) << Kv("app", app_id)
                    << Kv("job", options_.job.kind()) << Kv("maps", job_->num_maps())
                    << Kv("partitions", job_->num_partitions());

  ProgressDisplay display(options_.show_progress);
  Watch watch;
  watch.tier = &tier;
  watch.token = prepared.token;
  watch.shuffle = shuffle;
  watch.start = Clock::now();
  watch.display = &display;
  pods_ = std::make_unique<podmanager::PodManager>(
      backend_,
      podmanager::PodManagerOptions{.executors = options_.executors,
                                    .slots = options_.slots,
                                    .driver_address = driver_address,
                                    .secret = app.secret},
      this);
  if (absl::Status started = pods_->Start(); !started.ok()) {
    scheduler_->Fail(started);
  }
  // Servers that hand their outputs over (their node going away): readers follow.
  MoveFollower follower(
      backend_, &tier, prepared.token, scheduler_.get(),
      [this](const std::string& node) { return IsLost(node); }, MoveFollower::Options{});
  follower.Start();
  while (!scheduler_->WaitUntilOver(options_.step_interval)) {
    Step(watch);
    if (Clock::now() - watch.start > options_.timeout) {
      scheduler_->Fail(absl::DeadlineExceededError(
          absl::StrCat("the job did not finish within ", options_.timeout.count(), " s")));
    }
  }
  follower.Stop();
  JobReport report = Finish(watch, prepared.nodes);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return report;
}

JobReport JobRunner::Finish(Watch& watch, uint32_t nodes) {
  const Clock::time_point end = Clock::now();
  pods_->Stop();
  JobReport report;
  {
    absl::MutexLock lock(&mu_);
    report.evictions = evictions_;
  }
  report.job = options_.job;
  report.status = scheduler_->status();
  report.progress = scheduler_->progress();
  watch.display->Finish(report.progress, Seconds(end - watch.start));
  report.pods = pods_->stats();
  report.nodes = nodes;
  report.executors = options_.executors;
  report.slots = options_.slots;
  report.input_bytes = job_->input_bytes();
  report.total_seconds = Seconds(end - watch.start);
  report.map_seconds = Seconds((watch.sealed ? watch.map_done : end) - watch.start);
  report.reduce_seconds = watch.sealed ? Seconds(end - watch.map_done) : 0;
  report.validation = report.status.ok()
                          ? job_->Validate(scheduler_->Summaries())
                          : absl::FailedPreconditionError("not validated: the job failed");
  for (const podmanager::NodeInfo& node : backend_->Nodes()) {
    // A server lost to a partition may be back; one still out of reach keeps the data until its
    // idle-application TTL, rather than hold the driver for a call's whole deadline.
    if (node.server_up &&
        (!IsLost(node.name) || watch.tier->Probe(node.control_address, kProbeTimeout).ok())) {
      absl::StatusOr<uint64_t> freed =
          watch.tier->RemoveApplication(node.control_address, watch.token);
      report.freed_bytes += freed.ok() ? *freed : 0;
    }
  }
  std::vector<std::string> adopted;
  {
    absl::MutexLock lock(&mu_);
    adopted = adopted_control_;
  }
  for (const std::string& control : adopted) {
    absl::StatusOr<uint64_t> freed = watch.tier->RemoveApplication(control, watch.token);
    report.freed_bytes += freed.ok() ? *freed : 0;
  }
  return report;
}

void JobRunner::SealWhenMapsDone(Watch& watch, const scheduler::Progress& p) {
  if (!p.map_stage_complete) {
    watch.sealed = false;  // a lost server sent maps back: seal again when they are done
    return;
  }
  if (watch.sealed) {
    return;
  }
  watch.sealed = true;
  watch.map_done = Clock::now();
  for (const podmanager::NodeInfo& node : backend_->Nodes()) {
    if (node.server_up && !IsLost(node.name)) {
      absl::Status st = watch.tier->Seal(node.control_address, watch.token, watch.shuffle);
      if (!st.ok()) {
        SHUFFLE_LOG(WARNING) << "cannot seal the shuffle" << Kv("error", st.ToString());
      }
    }
  }
}

void JobRunner::CheckSuspectsAndSilence(const Watch& watch) {
  // A server that reducers cannot fetch from is lost when its node says so (the process or pod is
  // gone) or when nothing answers the driver either (a partition, a hung host): two observers
  // agree. One that answers, even refusing (restarting) or not serving (draining), is kept: the
  // reduce retries.
  std::vector<std::string> suspects = scheduler_->TakeSuspectServers();
  std::sort(suspects.begin(), suspects.end());
  suspects.erase(std::unique(suspects.begin(), suspects.end()), suspects.end());
  for (const std::string& address : suspects) {
    for (const podmanager::NodeInfo& node : backend_->Nodes()) {
      if (node.data_address != address || IsLost(node.name)) {
        continue;
      }
      if (!node.server_up) {
        LoseServer(node.name);
        continue;
      }
      absl::Status reach = watch.tier->Probe(node.control_address, kProbeTimeout);
      if (absl::IsDeadlineExceeded(reach)) {
        SHUFFLE_LOG(WARNING) << "shuffle server unreachable from readers and from the driver"
                             << Kv("node", node.name) << Kv("error", reach.ToString());
        LoseServer(node.name);
        absl::MutexLock lock(&mu_);
        unreachable_nodes_.insert(node.name);
      }
    }
  }
  // Executors silent too long are lost; on a node the driver cannot reach, a short silence is
  // enough: it is the same outage, and their tasks should not wait out the full timeout.
  std::set<std::string> silent;
  for (const std::string& id : service_->Silent(options_.executor_silence_timeout)) {
    silent.insert(id);
  }
  for (const std::string& id : service_->Silent(kSilenceOnUnreachableNode)) {
    const std::string node = scheduler_->NodeOf(id);
    absl::MutexLock lock(&mu_);
    if (unreachable_nodes_.count(node) != 0) {
      silent.insert(id);
    }
  }
  for (const std::string& id : silent) {
    service_->Forget(id);
    if (scheduler_->HasExecutor(id)) {
      SHUFFLE_LOG(WARNING) << "executor silent; declaring it lost" << Kv("executor", id);
      scheduler_->RemoveExecutor(id, /*lost=*/true);
      pods_->Evict(id).IgnoreError();
    }
  }
}

void JobRunner::OfferReplicaServers() {
  if (options_.scheduler.replicas <= 1) {
    return;
  }
  std::vector<scheduler::ReplicaServer> servers;
  for (const podmanager::NodeInfo& node : backend_->Nodes()) {
    // Not on a node that is going away: the copy would have to move again.
    if (node.server_up && !IsLost(node.name) && node.leaving.empty()) {
      servers.push_back({.node = node.name, .data_address = node.data_address});
    }
  }
  scheduler_->SetReplicaServers(std::move(servers));
}

void JobRunner::Step(Watch& watch) {
  OfferReplicaServers();
  const scheduler::Progress p = scheduler_->progress();
  SealWhenMapsDone(watch, p);
  CheckSuspectsAndSilence(watch);
  if (options_.dynamic_allocation) {
    Allocate(p);
  }
  watch.display->Update(p, Seconds(Clock::now() - watch.start));
  if (tick_) {
    tick_(p);
  }
}

void JobRunner::Allocate(const scheduler::Progress& p) {
  // The tasks still to run, the reduce stage's included while maps run: no executor is released
  // at the end of the map stage only to be launched again for the reduces.
  const uint32_t remaining =
      p.num_reduces - p.reduces_done + (p.map_stage_complete ? 0 : p.num_maps - p.maps_done);
  const uint32_t slots = std::max(1u, options_.slots);
  const uint32_t wanted = std::clamp((remaining + slots - 1) / slots, 1u, options_.executors);
  if (wanted == pods_->target()) {
    return;
  }
  absl::Status st = pods_->ScaleTo(
      wanted, [this](const std::string& id) { return scheduler_->RetireIfIdle(id); });
  if (!st.ok()) {
    SHUFFLE_LOG(WARNING) << "cannot scale executors" << Kv("target", wanted)
                         << Kv("error", st.ToString());
  }
}

std::vector<std::string> JobRunner::LiveExecutors() const { return pods_->Live(); }

bool JobRunner::IsBusy(const std::string& executor_id) const {
  return !scheduler_->IsIdle(executor_id);
}

absl::Status JobRunner::Evict(const std::string& executor_id) {
  SHUFFLE_LOG(INFO) << "evicting executor" << Kv("executor", executor_id);
  SHUFFLE_RETURN_IF_ERROR(pods_->Evict(executor_id));
  absl::MutexLock lock(&mu_);
  ++evictions_;
  return absl::OkStatus();
}

void JobRunner::OnExecutorEnded(const podmanager::BackendEvent& event) {
  if (service_ != nullptr) {
    service_->Forget(event.executor_id);
  }
  // Lost: neither released by the driver nor ended cleanly. An executor that exits cleanly was
  // told to stop (its job over, before the pod manager's release reached it): not a loss.
  scheduler_->RemoveExecutor(event.executor_id, /*lost=*/!event.released && !event.clean);
}

void JobRunner::OnServerLost(const std::string& node) { LoseServer(node); }

void JobRunner::OnOutputsMoved(const std::string& node,
                               const std::vector<podmanager::MovedOutput>& moved) {
  std::vector<client::MapStatus> ours;
  for (const podmanager::MovedOutput& m : moved) {
    if (m.app_id != app_id_) {
      continue;
    }
    absl::StatusOr<client::MapStatus> status = client::MapStatus::Parse(m.status);
    if (!status.ok()) {
      SHUFFLE_LOG(WARNING) << "a moved map output's status does not parse" << Kv("node", node)
                           << Kv("error", status.status().ToString());
      continue;
    }
    ours.push_back(*std::move(status));
  }
  scheduler_->MoveOutputs(node, ours);
}

void JobRunner::OnFatal(const absl::Status& status) { scheduler_->Fail(status); }

bool JobRunner::IsLost(const std::string& node) {
  absl::MutexLock lock(&mu_);
  return lost_nodes_.count(node) != 0;
}

void JobRunner::LoseServer(const std::string& node) {
  {
    absl::MutexLock lock(&mu_);
    if (!lost_nodes_.insert(node).second) {
      return;
    }
  }
  if (options_.adopt_lost_nodes) {
    AdoptLostNode(node);
  }
  scheduler_->LoseServerOnNode(node);  // what was not adopted: replicas, else re-runs
}

bool JobRunner::AdoptLostNode(const std::string& node) {
  for (const podmanager::NodeInfo& peer : backend_->Nodes()) {
    if (peer.name == node || !peer.server_up || !peer.leaving.empty() || IsLost(peer.name)) {
      continue;
    }
    // A peer that does not answer at once (killed in the same moment, before its node says so)
    // is skipped, not waited for: the adoption's own deadline is for a live server's recovery.
    if (absl::Status reach = tier_->Probe(peer.control_address, kProbeTimeout); !reach.ok()) {
      SHUFFLE_LOG(INFO) << "a lost node's data was not offered to an unreachable peer"
                        << Kv("node", node) << Kv("peer", peer.name)
                        << Kv("error", reach.ToString());
      continue;
    }
    absl::StatusOr<client::ControlClient::Adoption> adoption =
        tier_->Adopt(peer.control_address, token_, node, options_.adopt_timeout);
    if (!adoption.ok()) {
      SHUFFLE_LOG(INFO) << "a lost node's data was not adopted" << Kv("node", node)
                        << Kv("asked", peer.name) << Kv("error", adoption.status().ToString());
      if (absl::IsNotFound(adoption.status())) {
        return false;  // nothing on the shared volume: no other server will find more
      }
      continue;
    }
    const std::string& by = adoption->adopted_by.empty() ? peer.name : adoption->adopted_by;
    scheduler_->AdoptOutputs(node, by, adoption->data_address, adoption->control_address);
    absl::MutexLock lock(&mu_);
    adopted_control_.push_back(adoption->control_address);
    return true;
  }
  return false;
}

}  // namespace shuffle::runner
