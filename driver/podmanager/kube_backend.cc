#include "driver/podmanager/kube_backend.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "driver/kube/nodes.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::podmanager {

using core::Kv;
using nlohmann::json;

namespace {

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool Retryable(const absl::Status& st) {
  return absl::IsPermissionDenied(st) || absl::IsResourceExhausted(st) || absl::IsUnavailable(st) ||
         absl::IsAborted(st) || absl::IsDeadlineExceeded(st);
}

// One SelfSubjectAccessReview: may this identity do `p` in `ns`?
absl::Status CheckPermission(const kube::Client& client, const std::string& ns,
                             const Permission& p) {
  json review = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectAccessReview"},
      {"spec",
       {{"resourceAttributes", {{"namespace", ns}, {"verb", p.verb}, {"resource", p.resource}}}}}};
  if (!p.subresource.empty()) {
    review["spec"]["resourceAttributes"]["subresource"] = p.subresource;
  }
  kube::ResourcePath path;
  path.api = "apis/authorization.k8s.io/v1";
  path.resource = "selfsubjectaccessreviews";
  SHUFFLE_ASSIGN_OR_RETURN(json answer, client.Create(path, review));
  const json& status = answer.value("status", json::object());
  if (status.value("allowed", false)) {
    return absl::OkStatus();
  }
  const std::string what = p.subresource.empty() ? p.resource : p.resource + "/" + p.subresource;
  std::string reason = Str(status, "reason");
  return absl::PermissionDeniedError(
      absl::StrCat("missing RBAC permission: this driver's identity cannot ", p.verb, " ", what,
                   " in namespace ", ns, reason.empty() ? "" : " (" + reason + ")",
                   ": bind the shuffle-driver ClusterRole to its service account there "
                   "(deploy/base/rbac.yaml)"));
}

}  // namespace

const std::vector<Permission>& RequiredPermissions() {
  static const auto* const permissions = new std::vector<Permission>{
      {"create", "pods", ""}, {"get", "pods", ""},    {"list", "pods", ""},
      {"watch", "pods", ""},  {"delete", "pods", ""}, {"create", "pods", "eviction"}};
  return *permissions;
}

// PodSource over the REST client: the executor pods of one namespace.
class KubeBackend::Source : public PodSource {
 public:
  Source(const kube::Client* client, std::string ns) : client_(client), ns_(std::move(ns)) {}

  absl::StatusOr<List> ListPods(const std::string& selector) override {
    kube::ListOptions options;
    options.label_selector = selector;
    SHUFFLE_ASSIGN_OR_RETURN(kube::ListResult list, client_->List(kube::Pods(ns_), options));
    return List{std::move(list.items), std::move(list.resource_version)};
  }

  absl::Status WatchPods(const std::string& selector, const std::string& resource_version,
                         const OnEvent& on_event) override {
    kube::WatchOptions options;
    options.label_selector = selector;
    options.resource_version = resource_version;
    options.allow_bookmarks = true;
    options.timeout_seconds = 300;
    options.cancel = &cancel_;
    absl::StatusOr<std::string> last =
        client_->Watch(kube::Pods(ns_), options,
                       [&](const kube::WatchEvent& e) { return on_event(e.type, e.object); });
    if (absl::IsCancelled(last.status())) {
      return absl::OkStatus();
    }
    if (kube::IsResourceExpired(last.status())) {
      return absl::OutOfRangeError(last.status().message());
    }
    return last.status();
  }

  void Cancel() { cancel_ = true; }

 private:
  const kube::Client* const client_;
  const std::string ns_;
  std::atomic<bool> cancel_{false};
};

KubeBackend::KubeBackend(const kube::Client* client, KubeBackendOptions options)
    : client_(client), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<KubeBackend>> KubeBackend::Start(const kube::Client* client,
                                                                KubeBackendOptions options) {
  for (const Permission& p : RequiredPermissions()) {
    SHUFFLE_RETURN_IF_ERROR(CheckPermission(*client, options.pod.namespace_name, p));
  }
  SHUFFLE_RETURN_IF_ERROR(
      CheckPermission(*client, options.server_namespace, Permission{"list", "pods", ""}));
  auto backend = std::unique_ptr<KubeBackend>(new KubeBackend(client, std::move(options)));
  KubeBackend* raw = backend.get();
  raw->source_ = std::make_unique<Source>(client, raw->options_.pod.namespace_name);
  raw->watcher_ = std::make_unique<PodWatcher>(
      raw->source_.get(),
      PodWatcherOptions{.selector = ExecutorSelector(raw->options_.pod),
                        .resync = raw->options_.resync},
      [raw](const PodState& state) { raw->OnPod(state); });
  raw->watch_thread_ = std::thread([raw] { raw->watcher_->Run(); });
  raw->launch_thread_ = std::thread([raw] { raw->Launcher(); });
  const absl::Status nodes = CheckPermission(*client, "", Permission{"list", "nodes", ""});
  if (nodes.ok()) {
    raw->node_thread_ = std::thread([raw] { raw->WatchNodes(); });
  } else {
    SHUFFLE_LOG(WARNING) << "the driver may not list nodes: a deleted node's server is noticed "
                            "only when readers fail to fetch from it, and cordoned nodes still "
                            "take second copies; bind the shuffle-driver-nodes ClusterRole "
                            "(deploy/base/rbac.yaml)"
                         << Kv("error", nodes.ToString());
  }
  return backend;
}

void KubeBackend::WatchNodes() {
  for (;;) {
    PollNodes();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(options_.node_poll))) {
      return;
    }
  }
}

void KubeBackend::PollNodes() {
  absl::StatusOr<kube::ListResult> listed = client_->List(kube::Nodes(), kube::ListOptions{});
  if (!listed.ok()) {
    SHUFFLE_LOG(WARNING) << "cannot list nodes" << Kv("error", listed.status().ToString());
    return;
  }
  std::map<std::string, std::string> now;
  for (const json& node : listed->items) {
    const std::string name = Str(node.value("metadata", json::object()), "name");
    now[name] = kube::NodeLeavingReason(node).value_or("");
  }
  std::vector<std::string> deleted;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, reason] : now) {
      deleted_nodes_.erase(name);  // a node made again under a deleted one's name is a new node
      auto before = nodes_.find(name);
      if (!reason.empty() && (before == nodes_.end() || before->second.empty())) {
        SHUFFLE_LOG(WARNING) << "node leaving: its server takes no second copies and hands its "
                                "outputs over as it goes"
                             << Kv("node", name) << Kv("reason", reason);
      }
    }
    for (const auto& [name, reason] : nodes_) {
      if (now.count(name) == 0 && deleted_nodes_.insert(name).second) {
        deleted.push_back(name);
      }
    }
    nodes_ = std::move(now);
  }
  for (const std::string& name : deleted) {
    SHUFFLE_LOG(WARNING) << "node deleted: its shuffle server and its data are gone"
                         << Kv("node", name);
    BackendEvent event;
    event.kind = BackendEvent::Kind::kServerLost;
    event.node = name;
    event.detail = "the Node object was deleted";
    Emit(event);
  }
}

KubeBackend::~KubeBackend() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  watcher_->Stop();
  source_->Cancel();
  watch_thread_.join();
  launch_thread_.join();
  if (node_thread_.joinable()) {
    node_thread_.join();
  }
}

void KubeBackend::SetEventCallback(EventCallback callback) {
  absl::MutexLock lock(&callback_mu_);
  callback_ = std::move(callback);
}

void KubeBackend::Emit(const BackendEvent& event) {
  absl::MutexLock lock(&callback_mu_);
  if (callback_) {
    callback_(event);
  }
}

std::vector<NodeInfo> KubeBackend::Nodes() const {
  kube::ListOptions list;
  list.label_selector = options_.server_selector;
  absl::StatusOr<kube::ListResult> servers =
      client_->List(kube::Pods(options_.server_namespace), list);
  if (!servers.ok()) {
    SHUFFLE_LOG(WARNING) << "cannot list the shuffle servers"
                         << Kv("error", servers.status().ToString());
    return {};
  }
  std::vector<NodeInfo> nodes;
  absl::MutexLock lock(&mu_);
  for (const json& pod : servers->items) {
    const json& spec = pod.value("spec", json::object());
    const json& status = pod.value("status", json::object());
    const json& metadata = pod.value("metadata", json::object());
    const std::string node = Str(spec, "nodeName");
    const std::string ip = Str(status, "hostIP");
    if (node.empty() || ip.empty()) {
      continue;  // not scheduled or not started yet
    }
    NodeInfo info{.name = node,
                  .data_address = core::Endpoint::Tcp(ip, options_.data_port).ToString(),
                  .control_address = core::Endpoint::Tcp(ip, options_.control_port).ToString(),
                  // Not Ready (restarting, a rolling update) still counts as up: its data stays. On
                  // a deleted node it is gone, whatever its pod (not collected yet) says.
                  .server_up = Str(status, "phase") == "Running" &&
                               !metadata.contains("deletionTimestamp") &&
                               deleted_nodes_.count(node) == 0};
    if (auto n = nodes_.find(node); n != nodes_.end()) {
      info.leaving = n->second;
    }
    for (const auto& [id, e] : executors_) {
      info.executors += e.node == node ? 1 : 0;
    }
    nodes.push_back(std::move(info));
  }
  return nodes;
}

absl::Status KubeBackend::LaunchExecutor(const ExecutorLaunch& launch) {
  absl::MutexLock lock(&mu_);
  if (executors_.count(launch.executor_id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("executor ", launch.executor_id, " exists"));
  }
  executors_[launch.executor_id] = Executor{};
  to_create_.push_back(launch);
  return absl::OkStatus();
}

absl::Status KubeBackend::CreateWithRetries(const ExecutorLaunch& launch) {
  const json pod = ExecutorPod(options_.pod, launch);
  auto backoff = options_.create_backoff;
  absl::Status st;
  for (int attempt = 1; attempt <= options_.create_attempts; ++attempt) {
    st = client_->Create(kube::Pods(options_.pod.namespace_name), pod).status();
    if (st.ok() || absl::IsAlreadyExists(st)) {
      return absl::OkStatus();
    }
    if (!Retryable(st)) {
      return st;
    }
    SHUFFLE_LOG(WARNING) << "executor pod refused; retrying" << Kv("executor", launch.executor_id)
                         << Kv("attempt", attempt) << Kv("error", st.ToString());
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::FromChrono(backoff))) {
        return absl::CancelledError("backend stopping");
      }
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  }
  return st;
}

void KubeBackend::Launcher() {
  for (;;) {
    ExecutorLaunch launch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !to_create_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) {
        return;
      }
      launch = to_create_.front();
      to_create_.pop_front();
    }
    absl::Status st = CreateWithRetries(launch);
    if (st.ok()) {
      absl::MutexLock lock(&mu_);
      auto it = executors_.find(launch.executor_id);
      if (it != executors_.end()) {
        it->second.created = true;
      }
      continue;
    }
    SHUFFLE_LOG(ERROR) << "cannot create executor pod" << Kv("executor", launch.executor_id)
                       << Kv("error", st.ToString());
    bool released = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = executors_.find(launch.executor_id);
      released = it != executors_.end() && it->second.released;
      executors_.erase(launch.executor_id);
    }
    Emit(BackendEvent{.kind = BackendEvent::Kind::kExecutorExited,
                      .executor_id = launch.executor_id,
                      .node = "",
                      .detail = "pod not created: " + std::string(st.message()),
                      .evicted = false,
                      .released = released});
  }
}

void KubeBackend::OnPod(const PodState& state) {
  if (state.executor_id.empty()) {
    return;
  }
  BackendEvent event;
  {
    absl::MutexLock lock(&mu_);
    auto it = executors_.find(state.executor_id);
    if (it == executors_.end()) {
      return;  // not launched by this backend (or already reported)
    }
    if (!state.node.empty()) {
      it->second.node = state.node;
    }
    if (!state.ended) {
      return;
    }
    event = BackendEvent{.kind = BackendEvent::Kind::kExecutorExited,
                         .executor_id = state.executor_id,
                         .node = it->second.node,
                         .detail = state.detail,
                         .evicted = state.evicted || it->second.evicted,
                         .released = it->second.released,
                         .clean = state.succeeded && !state.evicted};
    executors_.erase(it);
  }
  Emit(event);
}

absl::Status KubeBackend::ReleaseExecutor(const std::string& executor_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = executors_.find(executor_id);
    if (it == executors_.end()) {
      return absl::NotFoundError(absl::StrCat("no executor ", executor_id));
    }
    it->second.released = true;
  }
  absl::Status st =
      client_->Delete(kube::Pods(options_.pod.namespace_name, executor_id), {}).status();
  return absl::IsNotFound(st) ? absl::OkStatus() : st;  // not created yet, or already gone
}

absl::Status KubeBackend::EvictExecutor(const std::string& executor_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = executors_.find(executor_id);
    if (it == executors_.end()) {
      return absl::NotFoundError(absl::StrCat("no executor ", executor_id));
    }
    it->second.evicted = true;
  }
  return client_->Evict(options_.pod.namespace_name, executor_id, {});
}

}  // namespace shuffle::podmanager
