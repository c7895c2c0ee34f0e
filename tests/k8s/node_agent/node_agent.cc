#include "tests/k8s/node_agent/node_agent.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "tests/k8s/node_agent/json_util.h"

namespace shuffle::node_agent {
namespace {

using kube::Json;

PlanOptions MakePlanOptions(const NodeAgentOptions& o) {
  PlanOptions p;
  p.node = o.node;
  p.node_root = absl::StrCat(o.root, "/", o.node);
  p.host_ip = o.host_ip;
  p.image_map = o.image_map;
  return p;
}

bool HostNetwork(const Json& pod) {
  const Json* v = At(pod, {"spec", "hostNetwork"});
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

bool Terminal(const Json& pod) {
  const std::string phase = Str(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

NodeAgent::NodeAgent(const kube::Client* client, NodeAgentOptions options)
    : client_(client), options_(std::move(options)), plan_options_(MakePlanOptions(options_)) {}

absl::StatusOr<std::unique_ptr<NodeAgent>> NodeAgent::Start(const kube::Client* client,
                                                            NodeAgentOptions options) {
  if (options.node.empty() || options.root.empty()) {
    return absl::InvalidArgumentError("node agent: a node name and a root directory are needed");
  }
  std::unique_ptr<NodeAgent> agent(new NodeAgent(client, std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(agent->plan_options_.node_root, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("create ", agent->plan_options_.node_root, ": ", ec.message()));
  }
  SHUFFLE_RETURN_IF_ERROR(agent->RegisterNode());
  agent->watcher_ = std::thread([a = agent.get()] { a->WatchLoop(); });
  agent->supervisor_ = std::thread([a = agent.get()] { a->SuperviseLoop(); });
  return agent;
}

NodeAgent::~NodeAgent() { Stop(); }

void NodeAgent::Stop() {
  stop_ = true;
  if (watcher_.joinable()) {
    watcher_.join();
  }
  if (supervisor_.joinable()) {
    supervisor_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  pods_.clear();  // Process destructors SIGKILL and reap
}

bool NodeAgent::Sleep(absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (!stop_ && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  return !stop_;
}

absl::Status NodeAgent::RegisterNode() {
  const std::string& name = options_.node;
  Json labels = {{"kubernetes.io/hostname", name},
                 {"kubernetes.io/os", "linux"},
                 {"kubernetes.io/arch", "amd64"}};
  for (const auto& [k, v] : options_.labels) {
    labels[k] = v;
  }
  const Json node = {{"apiVersion", "v1"},
                     {"kind", "Node"},
                     {"metadata", {{"name", name}, {"labels", labels}}},
                     {"spec", Json::object()}};
  if (absl::StatusOr<Json> created = client_->Create(kube::Nodes(), node);
      !created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
    return created.status();
  }
  // The TaintNodesByCondition admission plugin adds node.kubernetes.io/not-ready on creation,
  // and only the node lifecycle controller (not run here) would lift it.
  SHUFFLE_ASSIGN_OR_RETURN(const Json current, client_->Get(kube::Nodes(name)));
  Json taints = Json::array();
  for (const Json& t : Arr(current, {"spec", "taints"})) {
    const std::string key = Str(t, {"key"});
    if (key != "node.kubernetes.io/not-ready" && key != "node.kubernetes.io/unreachable") {
      taints.push_back(t);
    }
  }
  SHUFFLE_RETURN_IF_ERROR(
      client_
          ->Patch(kube::Nodes(name), kube::PatchType::kMerge,
                  {{"metadata", {{"labels", labels}}}, {"spec", {{"taints", taints}}}})
          .status());
  const std::string now = Rfc3339(absl::Now());
  const Json resources = {{"cpu", options_.cpu},
                          {"memory", options_.memory},
                          {"pods", std::to_string(options_.max_pods)},
                          {"ephemeral-storage", "100Gi"}};
  auto condition = [&](const char* type, const char* status, const char* reason) {
    return Json{{"type", type},
                {"status", status},
                {"reason", reason},
                {"lastHeartbeatTime", now},
                {"lastTransitionTime", now}};
  };
  const Json status = {
      {"status",
       {{"capacity", resources},
        {"allocatable", resources},
        {"conditions",
         Json::array({condition("Ready", "True", "KubeletReady"),
                      condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                      condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                      condition("PIDPressure", "False", "KubeletHasSufficientPID")})},
        {"addresses", Json::array({{{"type", "InternalIP"}, {"address", options_.host_ip}},
                                   {{"type", "Hostname"}, {"address", name}}})},
        {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
        {"nodeInfo",
         {{"kubeletVersion", "v1.20.2"},
          {"kubeProxyVersion", "v1.20.2"},
          {"operatingSystem", "linux"},
          {"architecture", "amd64"},
          {"containerRuntimeVersion", "node-agent://0.1"},
          {"machineID", ""},
          {"systemUUID", ""},
          {"bootID", ""},
          {"kernelVersion", ""},
          {"osImage", "shuffle node agent"}}}}}};
  kube::ResourcePath status_path = kube::Nodes(name);
  status_path.subresource = "status";
  return client_->Patch(status_path, kube::PatchType::kStrategicMerge, status).status();
}

void NodeAgent::WatchLoop() {
  const std::string selector = absl::StrCat("spec.nodeName=", options_.node);
  const kube::ResourcePath all_pods = kube::Pods("");
  while (!stop_) {
    kube::ListOptions list_options;
    list_options.field_selector = selector;
    absl::StatusOr<kube::ListResult> list = client_->List(all_pods, list_options);
    if (!list.ok()) {
      SHUFFLE_LOG(WARNING) << "node agent: listing pods failed" << core::Kv("node", options_.node)
                           << core::Kv("error", list.status().ToString());
      Sleep(absl::Seconds(1));
      continue;
    }
    std::vector<std::string> listed;
    for (const Json& pod : list->items) {
      listed.push_back(Str(pod, {"metadata", "uid"}));
      HandlePod(pod);
    }
    std::vector<std::string> gone;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [uid, run] : pods_) {
        if (std::find(listed.begin(), listed.end(), uid) == listed.end()) {
          gone.push_back(uid);
        }
      }
    }
    for (const std::string& uid : gone) {
      HandleDeleted(uid);
    }
    std::string rv = list->resource_version;
    while (!stop_) {
      kube::WatchOptions watch;
      watch.field_selector = selector;
      watch.resource_version = rv;
      watch.timeout_seconds = 60;
      watch.cancel = &stop_;
      absl::StatusOr<std::string> last =
          client_->Watch(all_pods, watch, [&](const kube::WatchEvent& e) {
            if (e.type == "DELETED") {
              HandleDeleted(Str(e.object, {"metadata", "uid"}));
            } else if (e.type == "ADDED" || e.type == "MODIFIED") {
              HandlePod(e.object);
            }
            return !stop_;
          });
      if (!last.ok()) {
        if (!stop_ && !kube::IsResourceExpired(last.status())) {
          SHUFFLE_LOG(WARNING) << "node agent: watching pods failed"
                               << core::Kv("node", options_.node)
                               << core::Kv("error", last.status().ToString());
          Sleep(absl::Seconds(1));
        }
        break;  // relist
      }
      rv = *last;
    }
  }
}

void NodeAgent::HandlePod(const Json& pod) {
  const std::string uid = Str(pod, {"metadata", "uid"});
  const bool deleting = At(pod, {"metadata", "deletionTimestamp"}) != nullptr &&
                        !At(pod, {"metadata", "deletionTimestamp"})->is_null();
  const std::string evict = Str(pod, {"metadata", "annotations", kEvictAnnotation});
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = pods_.find(uid);
    if (it != pods_.end()) {
      known = true;
      PodRun& run = *it->second;
      if (deleting && !run.terminating) {
        BeginTermination(run, Int(pod, {"metadata", "deletionGracePeriodSeconds"}, 30));
      }
      if (!evict.empty() && !run.evicted) {
        EvictLocked(run, evict);
      }
    }
  }
  if (known) {
    return;
  }
  if (deleting) {
    // Nothing of it runs here (finished, or never started): confirm the deletion.
    ConfirmDeletion(Str(pod, {"metadata", "namespace"}), Str(pod, {"metadata", "name"}), uid);
  } else if (!Terminal(pod)) {
    StartPod(pod);
  }
}

void NodeAgent::HandleDeleted(const std::string& uid) {
  std::unique_ptr<PodRun> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = pods_.find(uid);
    if (it == pods_.end()) {
      return;
    }
    run = std::move(it->second);
    pods_.erase(it);
  }
  // A force deletion: the object is gone, so are its processes (SIGKILL in ~Process).
  run.reset();
}

void NodeAgent::StartPod(const Json& pod, int replans) {
  auto run = std::make_unique<PodRun>();
  run->start_time = absl::Now();
  run->replans = replans;
  const RefResolver resolve_ref = [this](const std::string& kind, const std::string& ns,
                                         const std::string& name,
                                         const std::string& key) -> absl::StatusOr<std::string> {
    kube::ResourcePath path =
        kind == "secrets" ? kube::Secrets(ns, name) : kube::ConfigMaps(ns, name);
    SHUFFLE_ASSIGN_OR_RETURN(const Json object, client_->Get(path));
    const Json* value = At(object, {"data", key.c_str()});
    if (value == nullptr || !value->is_string()) {
      return absl::NotFoundError(absl::StrCat(kind, " ", ns, "/", name, " has no key '", key, "'"));
    }
    std::string decoded = value->get<std::string>();
    if (kind == "secrets" && !absl::Base64Unescape(value->get<std::string>(), &decoded)) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret ", name, " key ", key, ": not base64"));
    }
    return decoded;
  };
  const MapResolver resolve_map =
      [this](const std::string& kind, const std::string& ns,
             const std::string& name) -> absl::StatusOr<std::map<std::string, std::string>> {
    kube::ResourcePath path =
        kind == "secrets" ? kube::Secrets(ns, name) : kube::ConfigMaps(ns, name);
    SHUFFLE_ASSIGN_OR_RETURN(const Json object, client_->Get(path));
    std::map<std::string, std::string> out;
    if (const Json* data = At(object, {"data"}); data != nullptr && data->is_object()) {
      for (const auto& [k, v] : data->items()) {
        std::string value = v.is_string() ? v.get<std::string>() : "";
        if (kind == "secrets") {
          std::string decoded;
          value = absl::Base64Unescape(value, &decoded) ? decoded : "";
        }
        out[k] = value;
      }
    }
    return out;
  };
  PlanOptions plan_options = plan_options_;
  if (!options_.pod_ip_prefix.empty() && !HostNetwork(pod)) {
    plan_options.pod_ip =
        absl::StrCat(options_.pod_ip_prefix, ".", 2 + pods_addressed_.fetch_add(1) % 253);
  }
  absl::StatusOr<PodPlan> plan = PlanPod(pod, plan_options, resolve_ref, resolve_map);
  if (plan.ok()) {
    run->plan = std::move(*plan);
  } else {
    run->plan.ns = Str(pod, {"metadata", "namespace"});
    run->plan.name = Str(pod, {"metadata", "name"});
    run->plan.uid = Str(pod, {"metadata", "uid"});
    for (const Json& c : Arr(pod, {"spec", "containers"})) {
      run->plan.containers.push_back(ContainerPlan{
          .name = Str(c, {"name"}), .argv = {}, .env = {}, .ready_port = std::nullopt});
    }
    run->config_error = std::string(plan.status().message());
  }
  for (const std::string& dir : run->plan.directories) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec && run->config_error.empty()) {
      run->config_error = absl::StrCat("create ", dir, ": ", ec.message());
    }
  }
  for (const auto& [path, content] : run->plan.files) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out && run->config_error.empty()) {
      run->config_error = absl::StrCat("write ", path);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_ || pods_.count(run->plan.uid) != 0) {
    return;
  }
  if (!run->config_error.empty()) {
    run->replan_at =
        absl::Now() + std::min(absl::Seconds(1) * (1 << std::min(replans, 3)), absl::Seconds(10));
    SHUFFLE_LOG(WARNING) << "node agent: cannot plan pod; retrying"
                         << core::Kv("node", options_.node) << core::Kv("pod", run->plan.name)
                         << core::Kv("attempt", replans + 1)
                         << core::Kv("error", run->config_error);
  } else {
    const Json& specs = Arr(pod, {"spec", "containers"});
    for (size_t i = 0; i < run->plan.containers.size(); ++i) {
      ContainerRun c;
      c.plan = run->plan.containers[i];
      c.image = i < specs.size() ? Str(specs[i], {"image"}) : "";
      run->containers.push_back(std::move(c));
    }
    for (ContainerRun& c : run->containers) {
      StartContainer(c, *run);
    }
  }
  PodRun& ref = *run;
  pods_[ref.plan.uid] = std::move(run);
  if (const std::string evict = Str(pod, {"metadata", "annotations", kEvictAnnotation});
      !evict.empty()) {
    EvictLocked(ref, evict);
  }
}

void NodeAgent::ReplanFailedPods() {
  struct Due {
    std::string ns, name, uid;
    int replans;
  };
  std::vector<Due> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    for (const auto& [uid, run] : pods_) {
      if (!run->config_error.empty() && !run->terminating && now >= run->replan_at) {
        due.push_back({run->plan.ns, run->plan.name, uid, run->replans + 1});
        run->replan_at = absl::InfiniteFuture();  // until this attempt is over
      }
    }
  }
  for (const Due& d : due) {
    absl::StatusOr<Json> pod = client_->Get(kube::Pods(d.ns, d.name));
    const bool same = pod.ok() && Str(*pod, {"metadata", "uid"}) == d.uid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto it = pods_.find(d.uid);
      if (it == pods_.end()) {
        continue;  // deleted meanwhile
      }
      const Json* deleting = same ? At(*pod, {"metadata", "deletionTimestamp"}) : nullptr;
      if (!same || (deleting != nullptr && !deleting->is_null())) {
        // Gone or going: the watch deals with it; try again later if it is still here.
        it->second->replan_at = absl::Now() + absl::Seconds(1);
        continue;
      }
      pods_.erase(it);  // StartPod plans it afresh
    }
    StartPod(*pod, d.replans);
  }
}

void NodeAgent::ConfirmDeletion(const std::string& ns, const std::string& name,
                                const std::string& uid) {
  kube::DeleteOptions options;
  options.grace_period_seconds = 0;
  options.uid = uid;
  absl::StatusOr<Json> deleted = client_->Delete(kube::Pods(ns, name), options);
  if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound &&
      deleted.status().code() != absl::StatusCode::kAborted) {
    SHUFFLE_LOG(WARNING) << "node agent: confirming a deletion failed"
                         << core::Kv("node", options_.node) << core::Kv("pod", name)
                         << core::Kv("error", deleted.status().ToString());
  }
}

}  // namespace shuffle::node_agent
