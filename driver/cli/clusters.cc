#include "driver/cli/clusters.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "driver/podmanager/kube_backend.h"
#include "driver/podmanager/local_backend.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::cli {
namespace {

namespace fs = std::filesystem;

// The termination grace period a drained node's server gets to hand its data over.
constexpr std::chrono::seconds kDrainGrace(60);

// How long a fault waits for a node's server that is being restarted.
constexpr absl::Duration kRestartWait = absl::Seconds(15);

// A program of this build: beside this one (installed layout) or in the build tree.
std::string FindBinary(const std::string& name, const std::string& component_dir) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const fs::path& candidate : {self / name, self / ".." / ".." / component_dir / name,
                                    self / ".." / component_dir / name}) {
    if (access(candidate.c_str(), X_OK) == 0) {
      return fs::weakly_canonical(candidate, ec).string();
    }
  }
  return (self / name).string();  // the error will name it
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

absl::StatusOr<kube::Config> LoadConfig(const DriverOptions& options) {
  if (options.kubeconfig.empty() && !Env("KUBERNETES_SERVICE_HOST").empty()) {
    return kube::LoadInClusterConfig({});
  }
  return kube::LoadKubeconfig({.path = options.kubeconfig, .context = ""});
}

// Node-level faults on the local cluster. Never takes the last node with a working server, so a
// job can always finish. A partition heals after `partition`, on a thread of its own; the
// destructor heals what is still cut.
class LocalFaults : public chaos::FaultTarget {
 public:
  LocalFaults(podmanager::LocalBackend* backend, std::chrono::seconds partition,
              uint64_t slow_disk_bytes_per_second)
      : backend_(backend),
        partition_(partition),
        slow_disk_bytes_per_second_(slow_disk_bytes_per_second) {}

  ~LocalFaults() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& healer : healers_) {
      healer.join();
    }
  }

  absl::StatusOr<std::string> Inject(chaos::FaultKind kind, const std::string& executor_id,
                                     uint64_t random) override {
    if (kind == chaos::FaultKind::kKillExecutor) {
      SHUFFLE_RETURN_IF_ERROR(backend_->KillExecutor(executor_id));
      return absl::StrCat("kill-executor ", executor_id);
    }
    const bool takes_node =
        kind == chaos::FaultKind::kNodeLoss || kind == chaos::FaultKind::kNodeDrain ||
        kind == chaos::FaultKind::kNodeCrash || kind == chaos::FaultKind::kDiskFull ||
        kind == chaos::FaultKind::kPartition;
    const size_t needed = takes_node ? 2 : 1;
    std::vector<std::string> up = NodesToStrike(needed);
    if (up.size() < needed) {
      return absl::FailedPreconditionError(
          "no node it can strike and leave the job a writable node");
    }
    const std::string node = up[random % up.size()];
    if (takes_node) {
      absl::MutexLock lock(&mu_);
      gone_.insert(node);  // full, partitioned, lost, crashed or drained: never struck again
    }
    switch (kind) {
      case chaos::FaultKind::kKillServer:
        SHUFFLE_RETURN_IF_ERROR(backend_->KillServer(node));
        break;
      case chaos::FaultKind::kRestartServer:
        SHUFFLE_RETURN_IF_ERROR(backend_->TerminateServer(node));
        break;
      case chaos::FaultKind::kDiskFull:
        SHUFFLE_RETURN_IF_ERROR(backend_->FillDisk(node));
        break;
      case chaos::FaultKind::kNodeLoss:
        SHUFFLE_RETURN_IF_ERROR(backend_->StopServer(node, /*remove_data=*/true));
        break;
      case chaos::FaultKind::kNodeCrash:  // the data stays on the shared volume
        SHUFFLE_RETURN_IF_ERROR(backend_->StopServer(node, /*remove_data=*/false));
        break;
      case chaos::FaultKind::kNodeDrain: {
        SHUFFLE_ASSIGN_OR_RETURN(podmanager::LocalBackend::DrainResult drained,
                                 backend_->DrainNode(node, kDrainGrace));
        return absl::StrFormat("node-drain of %s: %u of %u map outputs moved (%.1f MiB, %.2f s)",
                               node, drained.moved, drained.maps,
                               static_cast<double>(drained.bytes_moved) / (1024.0 * 1024.0),
                               drained.seconds);
      }
      case chaos::FaultKind::kPartition:
        SHUFFLE_RETURN_IF_ERROR(backend_->Partition(node, /*cut=*/true));
        HealLater(node);
        return absl::StrCat("partition of ", node, " for ", partition_.count(), " s");
      case chaos::FaultKind::kSlowDisk:
        SHUFFLE_RETURN_IF_ERROR(backend_->SlowDisk(node, slow_disk_bytes_per_second_));
        return absl::StrCat("slow-disk on ", node, " (",
                            slow_disk_bytes_per_second_ / (1024 * 1024), " MiB/s)");
      default:
        return absl::InvalidArgumentError("not a node fault");
    }
    return absl::StrCat(core::ToAbsl(chaos::FaultName(kind)), " on ", node);
  }

 private:
  // The nodes a fault may strike: not struck for good before, with their server up. A server
  // that a kill-server or restart-server fault just ended is being restarted by the backend;
  // when fewer than `needed` nodes are up, this waits for such servers (up to
  // kRestartWait) rather than find no node.
  std::vector<std::string> NodesToStrike(size_t needed) {
    const absl::Time deadline = absl::Now() + kRestartWait;
    while (true) {
      std::vector<std::string> up;
      size_t candidates = 0;
      {
        absl::MutexLock lock(&mu_);
        for (const podmanager::NodeInfo& node : backend_->Nodes()) {
          if (gone_.count(node.name) != 0) {
            continue;
          }
          ++candidates;
          if (node.server_up) {
            up.push_back(node.name);
          }
        }
      }
      if (up.size() >= needed || candidates < needed || absl::Now() >= deadline) {
        return up;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  void HealLater(const std::string& node) {
    absl::MutexLock lock(&mu_);
    healers_.emplace_back([this, node] {
      const absl::Time deadline = absl::Now() + absl::FromChrono(partition_);
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithDeadline(absl::Condition(&stopping_), deadline);
      }
      absl::Status st = backend_->Partition(node, /*cut=*/false);
      if (!st.ok()) {
        SHUFFLE_LOG(ERROR) << "cannot heal a partition" << core::Kv("node", node)
                           << core::Kv("error", st.ToString());
      }
    });
  }

  podmanager::LocalBackend* const backend_;
  const std::chrono::seconds partition_;
  const uint64_t slow_disk_bytes_per_second_;
  absl::Mutex mu_;
  std::set<std::string> gone_ ABSL_GUARDED_BY(mu_);  // struck by a node fault: no more faults
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> healers_ ABSL_GUARDED_BY(mu_);
};

// Whether the chaos plan needs a network namespace per node.
bool NeedsNodeNetwork(const std::string& spec) {
  absl::StatusOr<std::vector<chaos::PlannedFault>> plan = chaos::PlanFaults(spec, 0);
  return plan.ok() && std::any_of(plan->begin(), plan->end(), [](const chaos::PlannedFault& f) {
           return f.kind == chaos::FaultKind::kPartition;
         });
}

}  // namespace

absl::StatusOr<Cluster> StartLocalCluster(const DriverOptions& options) {
  podmanager::LocalBackendOptions local;
  local.root = options.work_dir;
  local.nodes = options.nodes;
  local.server_binary = options.server_binary.empty()
                            ? FindBinary("shuffle-server", "shuffle-server")
                            : options.server_binary;
  local.executor_binary = options.executor_binary.empty()
                              ? FindBinary("shuffle-executor", "executor")
                              : options.executor_binary;
  local.server_args = {"--memory-budget-mib=128", "--min-free-mib=64"};
  local.isolated_network = NeedsNodeNetwork(options.chaos);
  if (local.isolated_network && !options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "partition faults put each node on an address of its own network namespace, which the "
        "--tls-cert-file certificate does not name: run them without TLS");
  }
  // Servers and executors run in other directories: absolute paths.
  const auto absolute = [](const std::string& path) {
    return path.empty() ? path : std::filesystem::absolute(path).string();
  };
  local.tls_cert_file = absolute(options.tls_cert_file);
  local.tls_key_file = absolute(options.tls_key_file);
  local.tls_ca_file = absolute(options.tls_ca_file);
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<podmanager::LocalBackend> backend,
                           podmanager::LocalBackend::Start(local));
  Cluster cluster;
  cluster.operator_secret = backend->operator_secret();
  cluster.listen = options.listen.empty() ? backend->driver_host() + ":0" : options.listen;
  cluster.advertise_host =
      options.advertise_host.empty() ? backend->driver_host() : options.advertise_host;
  cluster.description = absl::StrCat("Local cluster: ", options.nodes, " nodes, work directory ",
                                     options.work_dir, "\n");
  for (const podmanager::NodeInfo& node : backend->Nodes()) {
    absl::StrAppend(&cluster.description, "  ", node.name, ": shuffle-server data ",
                    node.data_address, ", control ", node.control_address, "\n");
  }
  cluster.faults =
      std::make_unique<LocalFaults>(backend.get(), std::chrono::seconds(options.partition_seconds),
                                    uint64_t{options.slow_disk_mib_per_second} << 20);
  cluster.backend = std::move(backend);
  return cluster;
}

absl::StatusOr<Cluster> ConnectKubernetes(const DriverOptions& options, const std::string& app_id) {
  SHUFFLE_ASSIGN_OR_RETURN(kube::Config config, LoadConfig(options));
  Cluster cluster;
  SHUFFLE_ASSIGN_OR_RETURN(cluster.client, kube::Client::Open(config));
  podmanager::KubeBackendOptions kube_options;
  podmanager::ExecutorPodTemplate& pod = kube_options.pod;
  pod.namespace_name =
      options.namespace_name.empty() ? config.default_namespace : options.namespace_name;
  pod.app_label = app_id;
  pod.image = options.image;
  pod.executor_command = options.executor_command;
  pod.driver_pod_name = options.driver_pod.empty() ? Env("POD_NAME") : options.driver_pod;
  if (!pod.driver_pod_name.empty()) {
    SHUFFLE_ASSIGN_OR_RETURN(kube::Json driver, cluster.client->Get(kube::Pods(
                                                    pod.namespace_name, pod.driver_pod_name)));
    pod.driver_pod_uid = driver["metadata"].value("uid", "");
  }
  pod.tls_ca_secret = options.tls_ca_secret;
  pod.tls_server_name = options.tls_server_name;
  kube_options.server_namespace = options.server_namespace;
  if (!options.operator_secret_file.empty()) {
    SHUFFLE_ASSIGN_OR_RETURN(std::string secret, kube::ReadSmallFile(options.operator_secret_file));
    cluster.operator_secret = std::string(absl::StripTrailingAsciiWhitespace(secret));
  } else {
    // Without the operator secret the driver proves who it is with the service-account token
    // it reaches the API server with; servers with --token-review check it with the TokenReview
    // API and register the application in that service account's namespace (docs/security.md).
    cluster.operator_secret = config.bearer_token;
    cluster.identity_token_file = config.token_file;  // in a pod: rotated by the kubelet
  }
  cluster.listen = options.listen.empty() ? "0.0.0.0:7100" : options.listen;
  cluster.advertise_host = options.advertise_host.empty() ? Env("POD_IP") : options.advertise_host;
  if (cluster.advertise_host.empty()) {
    return absl::InvalidArgumentError(
        "executor pods cannot reach this driver: pass --advertise-host (in a pod, $POD_IP from "
        "the downward API does it)");
  }
  SHUFFLE_ASSIGN_OR_RETURN(cluster.backend,
                           podmanager::KubeBackend::Start(cluster.client.get(), kube_options));
  cluster.description =
      absl::StrCat("Kubernetes cluster at ", config.server, ", namespace ", pod.namespace_name,
                   ", servers in ", options.server_namespace, "\n");
  return cluster;
}

}  // namespace shuffle::cli
