#include "driver/podmanager/kube_pods.h"

#include "absl/strings/str_cat.h"

namespace shuffle::podmanager {
namespace {

using nlohmann::json;

// j[key] as a string, or "" when absent or not a string.
std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& Field(const json& j, const char* key) {
  static const json* const empty = new json(json::object());
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : *empty;
}

json EnvFrom(const char* name, const char* field_path) {
  return {{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", field_path}}}}}};
}

// "exit code 3 (Error)" from the first terminated container, or "".
std::string TerminatedDetail(const json& status) {
  auto statuses = status.find("containerStatuses");
  if (statuses == status.end() || !statuses->is_array()) {
    return "";
  }
  for (const json& c : *statuses) {
    const json& terminated = Field(Field(c, "state"), "terminated");
    auto code = terminated.find("exitCode");
    if (code != terminated.end() && code->is_number_integer()) {
      std::string detail = absl::StrCat("exit code ", code->get<int64_t>());
      if (const std::string reason = Str(terminated, "reason"); !reason.empty()) {
        absl::StrAppend(&detail, " (", reason, ")");
      }
      return detail;
    }
  }
  return "";
}

bool HasDisruptionTarget(const json& status) {
  auto conditions = status.find("conditions");
  if (conditions == status.end() || !conditions->is_array()) {
    return false;
  }
  for (const json& c : *conditions) {
    if (Str(c, "type") == "DisruptionTarget" && Str(c, "status") == "True") {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string ExecutorSelector(const ExecutorPodTemplate& t) {
  return absl::StrCat("app=", t.app_label, ",role=executor");
}

json ExecutorPod(const ExecutorPodTemplate& t, const ExecutorLaunch& launch) {
  json labels = {{"app", t.app_label}, {"role", "executor"}, {"executor-id", launch.executor_id}};
  json metadata = {
      {"name", launch.executor_id}, {"namespace", t.namespace_name}, {"labels", labels}};
  if (!t.driver_pod_name.empty()) {
    metadata["ownerReferences"] = json::array({{{"apiVersion", "v1"},
                                                {"kind", "Pod"},
                                                {"name", t.driver_pod_name},
                                                {"uid", t.driver_pod_uid},
                                                {"controller", true},
                                                {"blockOwnerDeletion", true}}});
  }
  const std::string cpu =
      launch.slots <= 1 ? t.cpu_per_slot : absl::StrCat(launch.slots);  // one core per slot
  json container = {
      {"name", "executor"},
      {"image", t.image},
      {"command", json::array({t.executor_command})},
      {"args",
       json::array({"--driver=" + launch.driver_address, "--executor-id=" + launch.executor_id,
                    absl::StrCat("--slots=", launch.slots)})},
      {"env", json::array({{{"name", "SHUFFLE_JOB_SECRET"}, {"value", launch.secret}},
                           {{"name", "SHUFFLE_SERVER_SOCKET"},
                            {"value", t.socket_dir + "/" + t.socket_name}},
                           EnvFrom("SHUFFLE_NODE_IP", "status.hostIP"),
                           EnvFrom("NODE_NAME", "spec.nodeName")})},
      {"resources",
       {{"requests", {{"cpu", cpu}, {"memory", t.memory}}}, {"limits", {{"memory", t.memory}}}}},
      {"volumeMounts", json::array({{{"name", "shuffle-socket"}, {"mountPath", t.socket_dir}}})}};
  if (!t.tls_ca_secret.empty()) {
    container["args"].push_back("--tls-ca-file=" + t.tls_ca_dir + "/ca.crt");
    if (!t.tls_server_name.empty()) {
      container["args"].push_back("--tls-server-name=" + t.tls_server_name);
    }
    container["volumeMounts"].push_back(
        {{"name", "shuffle-tls-ca"}, {"mountPath", t.tls_ca_dir}, {"readOnly", true}});
  }
  json spec = {
      {"restartPolicy", "Never"},
      {"terminationGracePeriodSeconds", t.termination_grace_seconds},
      {"containers", json::array({container})},
      {"volumes",
       json::array({{{"name", "shuffle-socket"},
                     {"hostPath", {{"path", t.socket_dir}, {"type", "DirectoryOrCreate"}}}}})}};
  if (!t.tls_ca_secret.empty()) {
    spec["volumes"].push_back(
        {{"name", "shuffle-tls-ca"},
         {"secret",
          {{"secretName", t.tls_ca_secret},
           {"items", json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}}}});
  }
  if (!t.service_account.empty()) {
    spec["serviceAccountName"] = t.service_account;
  }
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata}, {"spec", spec}};
}

PodState InterpretPod(std::string_view event_type, const json& pod) {
  PodState state;
  const json& metadata = Field(pod, "metadata");
  const json& status = Field(pod, "status");
  state.executor_id = Str(Field(metadata, "labels"), "executor-id");
  state.node = Str(Field(pod, "spec"), "nodeName");
  state.deleting =
      metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null();
  const std::string phase = Str(status, "phase");
  const std::string reason = Str(status, "reason");
  state.evicted = reason == "Evicted" || HasDisruptionTarget(status);
  const std::string terminated = TerminatedDetail(status);
  state.succeeded = phase == "Succeeded";
  if (phase == "Failed" || phase == "Succeeded") {
    state.ended = true;
    if (state.evicted) {
      state.detail = absl::StrCat("evicted: ", Str(status, "message"));
    } else {
      state.detail = terminated.empty() ? absl::StrCat("pod ", phase) : terminated;
    }
  }
  if (event_type == "DELETED") {
    state.ended = true;  // authoritative, whatever the last status said
    if (state.detail.empty()) {
      state.detail = state.evicted ? "evicted (pod deleted)" : "pod deleted";
    }
  }
  return state;
}

}  // namespace shuffle::podmanager
