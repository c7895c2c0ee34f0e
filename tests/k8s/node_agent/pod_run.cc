#include "tests/k8s/node_agent/pod_run.h"

#include <signal.h>

#include "absl/strings/str_cat.h"

namespace shuffle::node_agent {
namespace {

using kube::Json;

Json Condition(const char* type, bool status, const std::string& now,
               const std::string& reason = "", const std::string& message = "") {
  Json c = {{"type", type},
            {"status", status ? "True" : "False"},
            {"lastTransitionTime", now},
            {"lastProbeTime", nullptr}};
  if (!reason.empty()) {
    c["reason"] = reason;
  }
  if (!message.empty()) {
    c["message"] = message;
  }
  return c;
}

Json Terminated(const ContainerRun& c) {
  const core::ExitInfo& exit = *c.last_exit;
  const int code = exit.signal != 0 ? 128 + exit.signal : exit.exit_code;
  Json t = {{"exitCode", code},
            {"reason", code == 0 ? "Completed" : "Error"},
            {"startedAt", Rfc3339(c.started_at)},
            {"finishedAt", Rfc3339(c.finished_at)},
            {"containerID", absl::StrCat("node-agent://", c.plan.name)}};
  if (exit.signal != 0) {
    t["signal"] = exit.signal;
    t["message"] = exit.Describe();
  }
  return t;
}

Json ContainerStatus(const ContainerRun& c, bool evicted) {
  Json s = {{"name", c.plan.name},
            {"image", c.image},
            {"imageID", ""},
            {"restartCount", c.restarts},
            {"ready", c.process != nullptr && c.ready},
            {"started", c.process != nullptr}};
  if (c.process != nullptr) {
    s["containerID"] = absl::StrCat("node-agent://", c.process->pid());
    s["state"] = {{"running", {{"startedAt", Rfc3339(c.started_at)}}}};
    if (c.last_exit.has_value()) {
      s["lastState"] = {{"terminated", Terminated(c)}};
    }
  } else if (c.last_exit.has_value() && (c.done || evicted)) {
    s["state"] = {{"terminated", Terminated(c)}};
  } else if (c.last_exit.has_value()) {
    s["state"] = {{"waiting", {{"reason", "CrashLoopBackOff"}}}};
    s["lastState"] = {{"terminated", Terminated(c)}};
  } else {
    s["state"] = {{"waiting", {{"reason", "ContainerCreating"}}}};
  }
  return s;
}

}  // namespace

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

Json BuildPodStatus(const PodRun& run, const std::string& host_ip) {
  const std::string now = Rfc3339(absl::Now());
  const std::string& pod_ip = run.plan.pod_ip.empty() ? host_ip : run.plan.pod_ip;
  Json status = {{"hostIP", host_ip},
                 {"podIP", pod_ip},
                 {"podIPs", Json::array({{{"ip", pod_ip}}})},
                 {"startTime", Rfc3339(run.start_time)},
                 {"qosClass", "BestEffort"}};
  Json containers = Json::array();
  bool all_done = !run.containers.empty();
  bool all_ok = true;
  bool any_started = false;
  bool all_ready = !run.containers.empty();
  for (const ContainerRun& c : run.containers) {
    containers.push_back(ContainerStatus(c, run.evicted));
    all_done = all_done && c.done && c.process == nullptr;
    all_ok = all_ok && c.last_exit.has_value() && c.last_exit->signal == 0 &&
             c.last_exit->exit_code == 0;
    any_started = any_started || c.process != nullptr || c.last_exit.has_value();
    all_ready = all_ready && c.process != nullptr && c.ready;
  }
  if (!run.config_error.empty()) {
    containers = Json::array();
    for (const ContainerPlan& c : run.plan.containers) {
      containers.push_back(
          {{"name", c.name},
           {"ready", false},
           {"restartCount", 0},
           {"image", ""},
           {"imageID", ""},
           {"state",
            {{"waiting",
              {{"reason", "CreateContainerConfigError"}, {"message", run.config_error}}}}}});
    }
    status["message"] = run.config_error;
    status["reason"] = "CreateContainerConfigError";
  }
  std::string phase = "Pending";
  if (run.evicted) {
    phase = "Failed";
    status["reason"] = "Evicted";
    status["message"] = run.evict_message;
  } else if (all_done) {
    phase = all_ok ? "Succeeded" : "Failed";
  } else if (any_started) {
    phase = "Running";
  }
  const bool ready = phase == "Running" && all_ready && !run.terminating;
  Json conditions =
      Json::array({Condition("Initialized", true, now), Condition("Ready", ready, now),
                   Condition("ContainersReady", ready, now), Condition("PodScheduled", true, now)});
  if (run.evicted) {
    // v1.20 never writes DisruptionTarget itself; newer kubelets do on node-pressure eviction.
    conditions.push_back(
        Condition("DisruptionTarget", true, now, "TerminationByKubelet", run.evict_message));
  }
  status["phase"] = phase;
  status["conditions"] = std::move(conditions);
  if (!containers.empty()) {
    status["containerStatuses"] = std::move(containers);
  }
  return Json{{"status", std::move(status)}};
}

}  // namespace shuffle::node_agent
