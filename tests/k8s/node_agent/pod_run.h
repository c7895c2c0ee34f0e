// PodRun: the node agent's record of one pod it plays the kubelet for (its plan, processes,
// restarts, termination and eviction state), and the pod status it reports. Not thread-safe:
// the NodeAgent guards every PodRun with its mutex.
#ifndef SHUFFLE_TESTS_K8S_NODE_AGENT_POD_RUN_H_
#define SHUFFLE_TESTS_K8S_NODE_AGENT_POD_RUN_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "driver/kube/client.h"
#include "shuffle/core/process.h"
#include "tests/k8s/node_agent/pod_plan.h"

namespace shuffle::node_agent {

struct ContainerRun {
  ContainerPlan plan;
  std::string image;
  std::unique_ptr<core::Process> process;  // null when not running
  absl::Time started_at;
  int restarts = 0;
  bool ready = false;
  std::optional<core::ExitInfo> last_exit;  // of the latest run
  absl::Time finished_at;
  absl::Time restart_at = absl::InfiniteFuture();  // when to start it again
  bool done = false;                               // ended for good: no restart will follow
};

struct PodRun {
  PodPlan plan;  // ns, name, uid are always set, even when planning failed
  absl::Time start_time;
  std::vector<ContainerRun> containers;
  std::string config_error;  // the pod could not be planned: it stays Pending with this message
  int replans = 0;           // plannings that failed before this one (config_error: retried)
  absl::Time replan_at = absl::InfiniteFuture();  // when to plan it again, as a kubelet would
  bool terminating = false;                       // deletionTimestamp seen: SIGTERM sent
  absl::Time kill_at;                             // SIGKILL then
  bool delete_sent = false;
  bool evicted = false;
  std::string evict_message;
  bool dirty = true;  // status to report
};

// The status subresource body (a merge patch) for `run`.
kube::Json BuildPodStatus(const PodRun& run, const std::string& host_ip);

// RFC 3339 in UTC, as the API wants timestamps.
std::string Rfc3339(absl::Time t);

}  // namespace shuffle::node_agent

#endif  // SHUFFLE_TESTS_K8S_NODE_AGENT_POD_RUN_H_
