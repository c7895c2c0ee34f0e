// NodeAgent: plays the kubelet of one fake node against a real API server, for tests on a
// machine without a container engine. It registers the Node (Ready, capacity, InternalIP
// 127.0.0.1, no not-ready taint), watches the pods bound to it, runs each container's command as
// a local process (see pod_plan.h for commands, env, volumes and path rewriting), reports pod
// status (phase, container states, exit codes, restarts, readiness), restarts containers as the
// restart policy says, finishes graceful deletions (SIGTERM, grace period, SIGKILL, then DELETE
// with grace 0) and evicts on request (SIGKILL; Failed/Evicted with a DisruptionTarget
// condition). Eviction is asked for with Evict() in-process, or from anywhere by annotating the
// pod with kEvictAnnotation (its value is the message).
//
// Thread-safe. Two threads of its own: the pod watch and a 100 ms supervision loop. Containers
// are started from those threads, so their PR_SET_PDEATHSIG fires when the agent stops.
#ifndef SHUFFLE_TESTS_K8S_NODE_AGENT_NODE_AGENT_H_
#define SHUFFLE_TESTS_K8S_NODE_AGENT_NODE_AGENT_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "driver/kube/client.h"
#include "tests/k8s/node_agent/pod_plan.h"
#include "tests/k8s/node_agent/pod_run.h"

namespace shuffle::node_agent {

inline constexpr char kEvictAnnotation[] = "node-agent.shuffle.dev/evict";

struct NodeAgentOptions {
  std::string node;                              // the Node's name
  std::string root;                              // processes' directories live under <root>/<node>/
  std::map<std::string, std::string> image_map;  // image or command name -> local binary
  std::map<std::string, std::string> labels;     // extra Node labels
  std::string cpu = "4";
  std::string memory = "8Gi";
  int max_pods = 110;
  std::string host_ip = "127.0.0.1";
  // Pods other than hostNetwork ones get addresses of their own, PREFIX.2 to PREFIX.254 in turn
  // (e.g. "127.1.21": loopback addresses a process can bind to, distinct per pod, as pod IPs
  // are); empty: every pod has the host IP.
  std::string pod_ip_prefix;
};

class NodeAgent {
 public:
  // Registers the node (taking over an existing Node of that name) and starts its threads.
  // `client` must outlive the agent.
  static absl::StatusOr<std::unique_ptr<NodeAgent>> Start(const kube::Client* client,
                                                          NodeAgentOptions options);
  // Stop().
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Ends the threads and SIGKILLs every process the agent started. The Node and its pods stay in
  // the API server. Idempotent.
  void Stop();

  // Node-pressure eviction of a pod running here. NOT_FOUND when the agent does not run it.
  absl::Status Evict(std::string_view ns, std::string_view name, std::string_view message);

  const std::string& node() const { return options_.node; }
  // The host pid of a running container's process, or 0.
  int PidOf(std::string_view ns, std::string_view name, std::string_view container) const;

 private:
  NodeAgent(const kube::Client* client, NodeAgentOptions options);
  absl::Status RegisterNode();
  void WatchLoop();
  void SuperviseLoop();
  void HandlePod(const kube::Json& pod);
  void HandleDeleted(const std::string& uid);
  // Plans and starts a pod; `replans`: failed plannings before this one (for the backoff).
  void StartPod(const kube::Json& pod, int replans = 0);
  // Plans again the pods whose planning failed (a Secret or ConfigMap not there yet, ...) once
  // their backoff is over: a kubelet retries them too.
  void ReplanFailedPods();
  void BeginTermination(PodRun& run, int64_t grace_seconds) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked(PodRun& run, std::string message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartContainer(ContainerRun& c, const PodRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ConfirmDeletion(const std::string& ns, const std::string& name, const std::string& uid);
  bool Sleep(absl::Duration d);  // false when stopping

  const kube::Client* const client_;
  const NodeAgentOptions options_;
  const PlanOptions plan_options_;
  std::atomic<bool> stop_{false};
  std::atomic<int> pods_addressed_{0};  // pod IPs handed out (pod_ip_prefix)
  // std::mutex rather than absl::Mutex: Debian's abseil is not TSan-instrumented, so races
  // here would be invisible to a TSan build (docs/architecture.md).
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<PodRun>> pods_ ABSL_GUARDED_BY(mu_);  // by uid
  std::thread watcher_;
  std::thread supervisor_;
};

}  // namespace shuffle::node_agent

#endif  // SHUFFLE_TESTS_K8S_NODE_AGENT_NODE_AGENT_H_
