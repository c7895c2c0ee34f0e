#include "driver/podmanager/local_backend.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "driver/podmanager/decommission.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/ready_file.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::podmanager {
namespace {

namespace fs = std::filesystem;
using core::Kv;

constexpr auto kPollInterval = std::chrono::milliseconds(50);

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::string raw(bytes, '\0');
  if (!in.read(raw.data(), static_cast<std::streamsize>(bytes))) {
    return absl::InternalError("cannot read /dev/urandom for a secret");
  }
  return absl::BytesToHexString(raw);
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalBackend>> LocalBackend::Start(LocalBackendOptions options) {
  if (options.nodes == 0) {
    return absl::InvalidArgumentError("a local cluster needs at least one node");
  }
  for (const std::string* binary : {&options.server_binary, &options.executor_binary}) {
    if (access(binary->c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("cannot execute ", *binary,
                                              ": build it first (ninja shuffle-server "
                                              "shuffle-executor) or pass its path"));
    }
  }
  std::error_code ec;
  fs::create_directories(fs::path(options.root) / "executors", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", options.root, ": ", ec.message()));
  }
  auto backend = std::unique_ptr<LocalBackend>(new LocalBackend(std::move(options)));
  SHUFFLE_RETURN_IF_ERROR(backend->WriteSecrets());
  if (backend->options_.isolated_network) {
    SHUFFLE_ASSIGN_OR_RETURN(
        backend->network_,
        NodeNetwork::Create(backend->options_.nodes,
                            (fs::path(backend->options_.root) / "network.log").string()));
  }
  {
    absl::MutexLock lock(&backend->mu_);
    for (uint32_t i = 0; i < backend->options_.nodes; ++i) {
      Node node;
      node.name = absl::StrCat("node-", i);
      node.index = i;
      node.dir = (fs::path(backend->options_.root) / node.name).string();
      fs::create_directories(node.dir, ec);
      backend->nodes_.push_back(std::move(node));
    }
    for (Node& node : backend->nodes_) {
      SHUFFLE_RETURN_IF_ERROR(backend->StartServer(node));
    }
  }
  backend->monitor_ = std::thread([raw = backend.get()] { raw->Monitor(); });
  return backend;
}

absl::Status LocalBackend::WriteSecrets() {
  if (!options_.authenticated) {
    return absl::OkStatus();
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::string cluster, RandomHex(32));
  SHUFFLE_ASSIGN_OR_RETURN(operator_secret_, RandomHex(32));
  cluster_secret_file_ = (fs::path(options_.root) / "cluster-secret").string();
  operator_secret_file_ = (fs::path(options_.root) / "operator-secret").string();
  SHUFFLE_RETURN_IF_ERROR(WriteFile(cluster_secret_file_, cluster));
  return WriteFile(operator_secret_file_, operator_secret_);
}

std::string LocalBackend::SharedRoot() const {
  return (fs::path(options_.root) / "shared").string();
}

std::string LocalBackend::DataDir(const Node& node) const {
  return (fs::path(SharedRoot()) / node.name).string();
}

absl::Status LocalBackend::StartServer(Node& node) {
  const std::string ready = node.dir + "/ready";
  const std::string log = node.dir + "/server.log";
  std::error_code ec;
  fs::remove(ready, ec);
  const std::string host = network_ != nullptr ? network_->NodeAddress(node.index) : "127.0.0.1";
  core::ProcessSpec spec;
  spec.argv = {options_.server_binary,
               "--data-dir=" + DataDir(node),
               "--adopt-root=" + SharedRoot(),
               "--adopt-listen-host=" + host,
               "--socket=" + node.dir + "/shuffle.sock",
               absl::StrCat("--listen=", host, ":", node.data_port),
               absl::StrCat("--control-listen=", host, ":", node.control_port),
               "--metrics-listen=127.0.0.1:0",
               "--node-name=" + node.name,
               "--ready-file=" + ready};
  if (options_.authenticated) {
    spec.argv.push_back("--secret-file=" + cluster_secret_file_);
    spec.argv.push_back("--registration-secret-file=" + operator_secret_file_);
  }
  if (!options_.tls_cert_file.empty()) {
    spec.argv.push_back("--tls-cert-file=" + options_.tls_cert_file);
    spec.argv.push_back("--tls-key-file=" + options_.tls_key_file);
  }
  if (!options_.tls_ca_file.empty()) {
    spec.argv.push_back("--tls-ca-file=" + options_.tls_ca_file);
  }
  spec.argv.insert(spec.argv.end(), options_.server_args.begin(), options_.server_args.end());
  spec.argv.insert(spec.argv.end(), node.extra_args.begin(), node.extra_args.end());
  spec.log_path = log;
  spec.netns = network_ != nullptr ? network_->NamespacePath(node.index) : "";
  SHUFFLE_ASSIGN_OR_RETURN(node.server, core::Process::Spawn(spec));
  ++node.starts;
  if (node.throttle != nullptr) {
    SHUFFLE_RETURN_IF_ERROR(node.throttle->Add(node.server->pid()));
  }
  absl::StatusOr<core::ReadyFile> announced = core::AwaitReadyFile(
      ready, std::chrono::steady_clock::now() + options_.ready_timeout, [&node, &log] {
        std::optional<core::ExitInfo> exit = node.server->Poll();
        return exit.has_value()
                   ? absl::UnavailableError(absl::StrCat(
                         "shuffle server of ", node.name, " ended (", exit->Describe(),
                         ") before it was ready; end of ", log, ":\n", core::LogTail(log, 2000)))
                   : absl::OkStatus();
      });
  if (!announced.ok()) {
    node.server->Signal(SIGKILL);
    if (!absl::IsDeadlineExceeded(announced.status())) {
      return announced.status();  // it ended, or wrote a ready file that does not parse
    }
    return absl::DeadlineExceededError(absl::StrCat("shuffle server of ", node.name,
                                                    " not ready within the timeout; end of ", log,
                                                    ":\n", core::LogTail(log, 2000)));
  }
  const std::optional<core::Endpoint> data = announced->Find(core::ReadyFile::kData);
  const std::optional<core::Endpoint> control = announced->Find(core::ReadyFile::kControl);
  if (!data.has_value() || !control.has_value()) {
    node.server->Signal(SIGKILL);
    return absl::InternalError(absl::StrCat(
        "the ready file of ", node.name, "'s shuffle server lacks its data or control address:\n",
        announced->Format()));
  }
  node.data_address = data->ToString();
  node.control_address = control->ToString();
  node.data_port = data->port();
  node.control_port = control->port();
  SHUFFLE_LOG(INFO) << "shuffle server ready" << Kv("node", node.name)
                    << Kv("data", node.data_address) << Kv("control", node.control_address)
                    << Kv("pid", node.server->pid());
  return absl::OkStatus();
}

LocalBackend::~LocalBackend() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (monitor_.joinable()) {
    monitor_.join();
  }
  absl::MutexLock lock(&mu_);
  for (auto& [id, executor] : executors_) {
    executor.process->Signal(SIGKILL);
  }
  executors_.clear();
  for (Node& node : nodes_) {
    if (node.server != nullptr) {
      node.server->Stop(std::chrono::seconds(10));
    }
    node.throttle.reset();
  }
  network_.reset();  // once no process is left in its namespaces
}

void LocalBackend::SetEventCallback(EventCallback callback) {
  absl::MutexLock lock(&callback_mu_);
  callback_ = std::move(callback);
}

std::vector<NodeInfo> LocalBackend::Nodes() const {
  absl::MutexLock lock(&mu_);
  std::vector<NodeInfo> out;
  for (const Node& node : nodes_) {
    NodeInfo info{.name = node.name,
                  .data_address = node.data_address,
                  .control_address = node.control_address,
                  .server_up = !node.lost && node.server != nullptr && node.server->running()};
    for (const auto& [id, executor] : executors_) {
      info.executors += executor.node == node.name ? 1 : 0;
    }
    out.push_back(std::move(info));
  }
  return out;
}

LocalBackend::Node* LocalBackend::FindNode(const std::string& name) {
  for (Node& node : nodes_) {
    if (node.name == name) {
      return &node;
    }
  }
  return nullptr;
}

absl::Status LocalBackend::LaunchExecutor(const ExecutorLaunch& launch) {
  std::vector<NodeInfo> nodes = Nodes();
  auto best = nodes.end();
  std::set<std::string> partitioned;
  {
    absl::MutexLock lock(&mu_);
    for (const Node& node : nodes_) {
      if (node.partitioned) {
        partitioned.insert(node.name);
      }
    }
  }
  for (auto it = nodes.begin(); it != nodes.end(); ++it) {
    if (!it->server_up || partitioned.count(it->name) != 0) {
      continue;
    }
    if (best == nodes.end() || it->executors < best->executors) {
      best = it;
    }
  }
  if (best == nodes.end()) {
    return absl::UnavailableError("no node with a running shuffle server to place an executor on");
  }
  absl::MutexLock lock(&mu_);
  if (executors_.count(launch.executor_id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("executor ", launch.executor_id, " exists"));
  }
  const Node* node = FindNode(best->name);
  core::ProcessSpec spec;
  spec.argv = {options_.executor_binary, "--driver=" + launch.driver_address,
               "--executor-id=" + launch.executor_id, "--node=" + node->name,
               absl::StrCat("--slots=", launch.slots)};
  if (!options_.tls_ca_file.empty()) {
    spec.argv.push_back("--tls-ca-file=" + options_.tls_ca_file);
  }
  spec.env = {{"SHUFFLE_SERVER_SOCKET", node->dir + "/shuffle.sock"},
              {"SHUFFLE_JOB_SECRET", launch.secret}};
  spec.log_path = (fs::path(options_.root) / "executors" / (launch.executor_id + ".log")).string();
  spec.netns = network_ != nullptr ? network_->NamespacePath(node->index) : "";
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Process> process, core::Process::Spawn(spec));
  SHUFFLE_LOG(INFO) << "executor started" << Kv("executor", launch.executor_id)
                    << Kv("node", node->name) << Kv("pid", process->pid());
  executors_[launch.executor_id] = Executor{.node = node->name, .process = std::move(process)};
  return absl::OkStatus();
}

absl::Status LocalBackend::ReleaseExecutor(const std::string& executor_id) {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  if (it == executors_.end()) {
    return absl::NotFoundError(absl::StrCat("no running executor ", executor_id));
  }
  it->second.released = true;
  it->second.process->Signal(SIGTERM);
  return absl::OkStatus();
}

absl::Status LocalBackend::EvictExecutor(const std::string& executor_id) {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  if (it == executors_.end()) {
    return absl::NotFoundError(absl::StrCat("no running executor ", executor_id));
  }
  it->second.evicted = true;
  it->second.process->Signal(SIGKILL);
  SHUFFLE_LOG(INFO) << "executor evicted" << Kv("executor", executor_id)
                    << Kv("node", it->second.node);
  return absl::OkStatus();
}

absl::Status LocalBackend::StopServer(const std::string& node_name, bool remove_data) {
  absl::MutexLock lock(&mu_);
  Node* node = FindNode(node_name);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("no node ", node_name));
  }
  node->lost = true;
  if (node->server != nullptr) {
    node->server->Signal(SIGKILL);
    node->server->Wait(std::chrono::seconds(10));
  }
  for (auto& [id, executor] : executors_) {
    if (executor.node == node_name) {
      executor.process->Signal(SIGKILL);
    }
  }
  if (remove_data) {
    std::error_code ec;
    fs::remove_all(DataDir(*node), ec);
  }
  SHUFFLE_LOG(WARNING) << "node's shuffle server stopped for good" << Kv("node", node_name)
                       << Kv("data_removed", remove_data);
  return absl::OkStatus();
}

absl::StatusOr<LocalBackend::DrainResult> LocalBackend::DrainNode(const std::string& node_name,
                                                                  std::chrono::seconds grace) {
  std::string control_address;
  std::vector<DecommissionPeer> peers;
  {
    absl::MutexLock lock(&mu_);
    Node* node = FindNode(node_name);
    if (node == nullptr || node->lost || node->server == nullptr) {
      return absl::NotFoundError(absl::StrCat("no serving shuffle server on node ", node_name));
    }
    control_address = node->control_address;
    for (const Node& peer : nodes_) {
      if (peer.name != node_name && !peer.lost && !peer.partitioned && peer.server != nullptr &&
          peer.server->running()) {
        peers.push_back(DecommissionPeer{.data_address = peer.data_address,
                                         .control_address = peer.control_address});
      }
    }
  }
  SHUFFLE_LOG(WARNING) << "draining node" << Kv("node", node_name) << Kv("peers", peers.size())
                       << Kv("grace_s", grace.count());
  SHUFFLE_ASSIGN_OR_RETURN(
      DecommissionResult decommissioned,
      Decommission(control_address, operator_secret_, peers, grace, ControlTls()));
  DrainResult result{.maps = decommissioned.maps,
                     .moved = decommissioned.moved.size(),
                     .bytes_moved = decommissioned.bytes_moved,
                     .seconds = decommissioned.seconds};
  // Delivered before the server goes: the driver points readers at the new places first.
  BackendEvent moved;
  moved.kind = BackendEvent::Kind::kOutputsMoved;
  moved.node = node_name;
  moved.detail = absl::StrCat(result.moved, " of ", result.maps, " map outputs moved");
  moved.moved = std::move(decommissioned.moved);
  {
    absl::MutexLock lock(&callback_mu_);
    if (callback_) {
      callback_(moved);
    }
  }
  SHUFFLE_RETURN_IF_ERROR(StopServer(node_name, /*remove_data=*/true));
  return result;
}

absl::Status LocalBackend::SignalServer(const std::string& node_name, int signal) {
  absl::MutexLock lock(&mu_);
  Node* node = FindNode(node_name);
  if (node == nullptr || node->server == nullptr || node->lost) {
    return absl::NotFoundError(absl::StrCat("no server on node ", node_name));
  }
  node->server->Signal(signal);
  return absl::OkStatus();
}

absl::Status LocalBackend::KillServer(const std::string& node) {
  return SignalServer(node, SIGKILL);
}

absl::Status LocalBackend::TerminateServer(const std::string& node) {
  return SignalServer(node, SIGTERM);
}

absl::Status LocalBackend::FillDisk(const std::string& node_name) {
  {
    absl::MutexLock lock(&mu_);
    Node* node = FindNode(node_name);
    if (node == nullptr) {
      return absl::NotFoundError(absl::StrCat("no node ", node_name));
    }
    // 1 PiB: more than any disk here has free.
    node->extra_args = {"--min-free-mib=1073741824"};
  }
  SHUFFLE_LOG(WARNING) << "disk full on a node: its server refuses writes from now on"
                       << Kv("node", node_name);
  return TerminateServer(node_name);
}

absl::Status LocalBackend::Partition(const std::string& node_name, bool cut) {
  absl::MutexLock lock(&mu_);
  Node* node = FindNode(node_name);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("no node ", node_name));
  }
  if (network_ == nullptr) {
    return absl::FailedPreconditionError(
        "a network partition needs a node network (LocalBackendOptions::isolated_network)");
  }
  SHUFFLE_RETURN_IF_ERROR(cut ? network_->Partition(node->index) : network_->Heal(node->index));
  node->partitioned = cut;
  SHUFFLE_LOG(WARNING) << (cut ? "node cut off the network" : "node's network healed")
                       << Kv("node", node_name);
  return absl::OkStatus();
}

absl::Status LocalBackend::SlowDisk(const std::string& node_name, uint64_t bytes_per_second) {
  absl::MutexLock lock(&mu_);
  Node* node = FindNode(node_name);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("no node ", node_name));
  }
  SHUFFLE_ASSIGN_OR_RETURN(node->throttle,
                           DiskThrottle::Create(node->name, node->dir, bytes_per_second));
  if (node->server != nullptr && node->server->running()) {
    SHUFFLE_RETURN_IF_ERROR(node->throttle->Add(node->server->pid()));
  }
  return absl::OkStatus();
}

std::string LocalBackend::driver_host() const {
  return network_ != nullptr ? network_->host_address() : "127.0.0.1";
}

absl::Status LocalBackend::KillExecutor(const std::string& executor_id) {
  absl::MutexLock lock(&mu_);
  auto it = executors_.find(executor_id);
  if (it == executors_.end()) {
    return absl::NotFoundError(absl::StrCat("no running executor ", executor_id));
  }
  it->second.process->Signal(SIGKILL);
  return absl::OkStatus();
}

uint32_t LocalBackend::ServerStarts(const std::string& node_name) const {
  absl::MutexLock lock(&mu_);
  for (const Node& node : nodes_) {
    if (node.name == node_name) {
      return node.starts;
    }
  }
  return 0;
}

std::vector<std::string> LocalBackend::Executors(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, executor] : executors_) {
    if (node.empty() || executor.node == node) {
      out.push_back(id);
    }
  }
  return out;
}

std::vector<BackendEvent> LocalBackend::Reap() {
  std::vector<BackendEvent> events;
  for (auto it = executors_.begin(); it != executors_.end();) {
    std::optional<core::ExitInfo> exit = it->second.process->Poll();
    if (!exit.has_value()) {
      ++it;
      continue;
    }
    BackendEvent e{
        .kind = BackendEvent::Kind::kExecutorExited,
        .executor_id = it->first,
        .node = it->second.node,
        .detail = it->second.evicted ? "evicted (" + exit->Describe() + ")" : exit->Describe(),
        .evicted = it->second.evicted,
        .released = it->second.released,
        .clean = !it->second.evicted && exit->signal == 0 && exit->exit_code == 0};
    events.push_back(std::move(e));
    it = executors_.erase(it);
  }
  for (Node& node : nodes_) {
    if (node.server == nullptr || node.server->running()) {
      continue;
    }
    if (node.lost) {
      BackendEvent lost;
      lost.kind = BackendEvent::Kind::kServerLost;
      lost.node = node.name;
      lost.detail = "shuffle server stopped for good";
      events.push_back(std::move(lost));
      node.server.reset();
      continue;
    }
    if (std::chrono::steady_clock::now() < node.restart_after) {
      continue;
    }
    SHUFFLE_LOG(WARNING) << "shuffle server ended; restarting it" << Kv("node", node.name)
                         << Kv("exit", node.server->Poll()->Describe());
    absl::Status st = StartServer(node);
    if (!st.ok()) {
      SHUFFLE_LOG(ERROR) << "shuffle server restart failed; retrying in 2 s"
                         << Kv("node", node.name) << Kv("error", st.ToString());
      node.restart_after = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
  }
  return events;
}

void LocalBackend::Monitor() {
  for (;;) {
    std::vector<BackendEvent> events;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        return;
      }
      events = Reap();
    }
    {
      absl::MutexLock lock(&callback_mu_);
      for (const BackendEvent& e : events) {
        if (callback_) {
          callback_(e);
        }
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace shuffle::podmanager
