#include "tests/k8s/node_agent/pod_plan.h"

#include <algorithm>
#include <string_view>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "shuffle/core/status_macros.h"
#include "tests/k8s/node_agent/json_util.h"

namespace shuffle::node_agent {
namespace {

using kube::Json;
using Rewrites = std::vector<std::pair<std::string, std::string>>;
using Env = std::vector<std::pair<std::string, std::string>>;

// The volumes of a pod: volume name -> real directory, and the files of ConfigMap and Secret
// volumes (path, content, whether its text gets the mount paths rewritten).
struct Volumes {
  std::map<std::string, std::string> dirs;
  std::vector<std::tuple<std::string, std::string, bool>> files;
};

// FAILED_PRECONDITION for volume types the agent cannot emulate.
absl::StatusOr<Volumes> PlanVolumes(const Json& pod, const PlanOptions& options,
                                    const std::string& pod_dir, const MapResolver& resolve_map) {
  Volumes volumes;
  const std::string ns = Str(pod, {"metadata", "namespace"});
  for (const Json& volume : Arr(pod, {"spec", "volumes"})) {
    const std::string name = Str(volume, {"name"});
    const std::string dir = absl::StrCat(pod_dir, "/volumes/", name);
    const std::string config_map = Str(volume, {"configMap", "name"});
    const std::string secret = Str(volume, {"secret", "secretName"});
    if (At(volume, {"emptyDir"}) != nullptr) {
      volumes.dirs[name] = dir;
    } else if (const std::string host = Str(volume, {"hostPath", "path"}); !host.empty()) {
      // Shared by every pod of this node, as a real hostPath is.
      volumes.dirs[name] = absl::StrCat(options.node_root, "/hostpath", host);
    } else if (!config_map.empty() || !secret.empty()) {
      // Every key as a file, read once at the pod's start (a kubelet would also update them).
      const bool is_config_map = !config_map.empty();
      absl::StatusOr<std::map<std::string, std::string>> keys = resolve_map(
          is_config_map ? "configmaps" : "secrets", ns, is_config_map ? config_map : secret);
      if (!keys.ok()) {
        return core::Annotate(keys.status(), absl::StrCat("volume '", name, "'"));
      }
      volumes.dirs[name] = dir;
      // `items` projects the keys it names to the paths it gives, and only those, as the
      // kubelet does; a key it names that the object lacks fails the pod.
      const Json* items = At(volume, {is_config_map ? "configMap" : "secret", "items"});
      if (items == nullptr || !items->is_array()) {
        for (const auto& [key, value] : *keys) {
          volumes.files.emplace_back(absl::StrCat(dir, "/", key), value, is_config_map);
        }
        continue;
      }
      for (const Json& item : *items) {
        const std::string key = Str(item, {"key"});
        auto found = keys->find(key);
        if (found == keys->end()) {
          return absl::NotFoundError(absl::StrCat("volume '", name, "': key '", key, "' not in ",
                                                  is_config_map ? config_map : secret));
        }
        const std::string path = Str(item, {"path"});
        volumes.files.emplace_back(absl::StrCat(dir, "/", path.empty() ? key : path), found->second,
                                   is_config_map);
      }
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("volume '", name,
                       "': only emptyDir, hostPath, configMap and secret volumes are emulated by "
                       "the node agent"));
    }
  }
  return volumes;
}

absl::StatusOr<std::string> FieldRef(const Json& pod, const std::string& field,
                                     const PlanOptions& options) {
  if (field == "status.hostIP") {
    return options.host_ip;
  }
  if (field == "status.podIP") {
    return options.pod_ip.empty() ? options.host_ip : options.pod_ip;
  }
  if (field == "spec.nodeName") {
    return options.node;
  }
  if (field == "metadata.name") {
    return Str(pod, {"metadata", "name"});
  }
  if (field == "metadata.namespace") {
    return Str(pod, {"metadata", "namespace"});
  }
  if (field == "metadata.uid") {
    return Str(pod, {"metadata", "uid"});
  }
  if (field == "spec.serviceAccountName") {
    return Str(pod, {"spec", "serviceAccountName"});
  }
  const std::string labels = "metadata.labels['";
  if (field.rfind(labels, 0) == 0 && field.size() > labels.size() + 2) {
    const std::string key = field.substr(labels.size(), field.size() - labels.size() - 2);
    const Json* v = At(pod, {"metadata", "labels"});
    return v != nullptr && v->contains(key) && (*v)[key].is_string() ? (*v)[key].get<std::string>()
                                                                     : "";
  }
  return absl::FailedPreconditionError(absl::StrCat("fieldRef '", field, "' is not emulated"));
}

absl::StatusOr<Env> PlanEnv(const Json& pod, const Json& container, const PlanOptions& options,
                            const RefResolver& resolve_ref, const MapResolver& resolve_map) {
  const std::string ns = Str(pod, {"metadata", "namespace"});
  Env env;
  for (const Json& from : Arr(container, {"envFrom"})) {
    const std::string prefix = Str(from, {"prefix"});
    const bool is_cm = At(from, {"configMapRef"}) != nullptr;
    const std::string name = Str(from, {is_cm ? "configMapRef" : "secretRef", "name"});
    SHUFFLE_ASSIGN_OR_RETURN(auto values, resolve_map(is_cm ? "configmaps" : "secrets", ns, name));
    for (const auto& [k, v] : values) {
      env.emplace_back(prefix + k, v);
    }
  }
  for (const Json& var : Arr(container, {"env"})) {
    const std::string name = Str(var, {"name"});
    std::string value;
    if (const Json* v = At(var, {"value"}); v != nullptr && v->is_string()) {
      value = ExpandVars(v->get<std::string>(), env);
    } else if (const std::string field = Str(var, {"valueFrom", "fieldRef", "fieldPath"});
               !field.empty()) {
      SHUFFLE_ASSIGN_OR_RETURN(value, FieldRef(pod, field, options));
    } else if (const Json* ref = At(var, {"valueFrom", "configMapKeyRef"}); ref != nullptr) {
      SHUFFLE_ASSIGN_OR_RETURN(
          value, resolve_ref("configmaps", ns, Str(*ref, {"name"}), Str(*ref, {"key"})));
    } else if (const Json* sref = At(var, {"valueFrom", "secretKeyRef"}); sref != nullptr) {
      SHUFFLE_ASSIGN_OR_RETURN(
          value, resolve_ref("secrets", ns, Str(*sref, {"name"}), Str(*sref, {"key"})));
    } else if (At(var, {"valueFrom"}) != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("env ", name, ": this valueFrom source is not emulated"));
    }
    env.emplace_back(name, std::move(value));
  }
  return env;
}

absl::StatusOr<std::vector<std::string>> PlanArgv(const Json& container, const PlanOptions& options,
                                                  const Env& env) {
  std::vector<std::string> command;
  for (const Json& c : Arr(container, {"command"})) {
    command.push_back(c.is_string() ? c.get<std::string>() : c.dump());
  }
  std::vector<std::string> argv;
  const std::string image = Str(container, {"image"});
  if (command.empty()) {
    const auto it = options.image_map.find(image);
    if (it == options.image_map.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no command and image '", image, "' is not mapped to a local binary (--image-map)"));
    }
    argv.push_back(it->second);
  } else if (!command[0].empty() && command[0][0] == '/') {
    argv = command;
  } else {
    const auto it = options.image_map.find(command[0]);
    if (it == options.image_map.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "command '", command[0], "' is not an absolute path nor mapped (--image-map)"));
    }
    argv = command;
    argv[0] = it->second;
  }
  for (const Json& a : Arr(container, {"args"})) {
    argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  }
  for (size_t i = 1; i < argv.size(); ++i) {
    argv[i] = ExpandVars(argv[i], env);
  }
  return argv;
}

std::optional<int> ReadyPort(const Json& container) {
  const Json* probe = At(container, {"readinessProbe"});
  if (probe == nullptr) {
    return std::nullopt;
  }
  const Json* port = At(*probe, {"tcpSocket", "port"});
  if (port == nullptr) {
    port = At(*probe, {"httpGet", "port"});
  }
  if (port == nullptr) {
    return std::nullopt;  // exec probes: ready when running
  }
  if (port->is_number_integer()) {
    return port->get<int>();
  }
  for (const Json& p : Arr(container, {"ports"})) {  // a named port
    if (port->is_string() && Str(p, {"name"}) == port->get<std::string>()) {
      return static_cast<int>(Int(p, {"containerPort"}, 0));
    }
  }
  return std::nullopt;
}

absl::StatusOr<PodPlan> Plan(const Json& pod, const PlanOptions& options,
                             const RefResolver& resolve_ref, const MapResolver& resolve_map) {
  PodPlan plan;
  plan.ns = Str(pod, {"metadata", "namespace"});
  plan.name = Str(pod, {"metadata", "name"});
  plan.uid = Str(pod, {"metadata", "uid"});
  plan.pod_ip = options.pod_ip.empty() ? options.host_ip : options.pod_ip;
  plan.restart_policy = Str(pod, {"spec", "restartPolicy"});
  if (plan.restart_policy.empty()) {
    plan.restart_policy = "Always";
  }
  const std::string pod_dir =
      absl::StrCat(options.node_root, "/pods/", plan.ns, "_", plan.name, "_", plan.uid);
  plan.directories.push_back(pod_dir);
  SHUFFLE_ASSIGN_OR_RETURN(const Volumes planned, PlanVolumes(pod, options, pod_dir, resolve_map));
  const std::map<std::string, std::string>& volumes = planned.dirs;
  for (const auto& [name, dir] : volumes) {
    plan.directories.push_back(dir);
  }
  Rewrites pod_rewrites;  // every container's mounts, for the text of ConfigMap files
  for (const Json& container : Arr(pod, {"spec", "containers"})) {
    ContainerPlan c;
    c.name = Str(container, {"name"});
    Rewrites rewrites;
    for (const Json& mount : Arr(container, {"volumeMounts"})) {
      const auto dir = volumes.find(Str(mount, {"name"}));
      if (dir == volumes.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "container ", c.name, ": volumeMount of unknown volume '", Str(mount, {"name"}), "'"));
      }
      std::string real = dir->second;
      if (const std::string sub = Str(mount, {"subPath"}); !sub.empty()) {
        real = absl::StrCat(real, "/", sub);
        plan.directories.push_back(real);
      }
      rewrites.emplace_back(Str(mount, {"mountPath"}), real);
      pod_rewrites.emplace_back(Str(mount, {"mountPath"}), real);
    }
    std::sort(rewrites.begin(), rewrites.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    absl::StatusOr<Env> env = PlanEnv(pod, container, options, resolve_ref, resolve_map);
    if (!env.ok()) {
      return core::Annotate(env.status(), absl::StrCat("container ", c.name));
    }
    absl::StatusOr<std::vector<std::string>> argv = PlanArgv(container, options, *env);
    if (!argv.ok()) {
      return core::Annotate(argv.status(), absl::StrCat("container ", c.name));
    }
    for (auto& [k, v] : *env) {
      v = RewritePaths(v, rewrites);
    }
    for (std::string& a : *argv) {
      a = RewritePaths(a, rewrites);
    }
    c.env = std::move(*env);
    c.argv = std::move(*argv);
    c.ready_port = ReadyPort(container);
    plan.containers.push_back(std::move(c));
  }
  std::sort(pod_rewrites.begin(), pod_rewrites.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [path, content, rewrite] : planned.files) {
    plan.files.emplace_back(path, rewrite ? RewritePaths(content, pod_rewrites) : content);
  }
  if (plan.containers.empty()) {
    return absl::InvalidArgumentError("the pod has no containers");
  }
  return plan;
}

}  // namespace

std::string RewritePaths(const std::string& text, const Rewrites& rewrites) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    bool replaced = false;
    // A mountPath starts a path: at the beginning, or after a separator such as '=', ':' or ' '.
    // (YAML text too: a list item after '[' or a value on its own line.)
    const bool at_start =
        i == 0 || std::string_view("=: ,\"'[\n\t").find(text[i - 1]) != std::string_view::npos;
    if (at_start && text[i] == '/') {
      for (const auto& [from, to] : rewrites) {
        if (from.empty() || text.compare(i, from.size(), from) != 0) {
          continue;
        }
        const size_t end = i + from.size();
        if (end == text.size() ||
            std::string_view("/:, \"']\n\t").find(text[end]) != std::string_view::npos ||
            from == "/") {
          out += to;
          i = end;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) {
      out.push_back(text[i]);
      ++i;
    }
  }
  return out;
}

std::string ExpandVars(const std::string& text, const Env& env) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '(') {
      const size_t close = text.find(')', i + 2);
      if (close != std::string::npos) {
        const std::string name = text.substr(i + 2, close - i - 2);
        const auto it = std::find_if(env.rbegin(), env.rend(),
                                     [&](const auto& kv) { return kv.first == name; });
        if (it != env.rend()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

absl::StatusOr<PodPlan> PlanPod(const Json& pod, const PlanOptions& options,
                                const RefResolver& resolve_ref, const MapResolver& resolve_map) {
  // nlohmann-json reports type errors by exceptions; none leave here.
  try {
    return Plan(pod, options, resolve_ref, resolve_map);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed pod: ", e.what()));
  }
}

}  // namespace shuffle::node_agent
