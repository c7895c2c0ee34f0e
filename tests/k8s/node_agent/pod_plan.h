// PodPlan: what the node agent runs for a pod, derived from the pod object alone: per container
// the argv, the environment and the readiness probe's port; per volume a real directory under
// the agent's root. Kubernetes paths seen by the container (volume mountPaths) do not exist on
// this machine, so every mountPath prefix found in command, args and env values is rewritten to
// the volume's real directory (longest mountPath first; a prefix matches only at a path
// boundary: "/data" rewrites "/data" and "/data/x", not "/database").
//
// Pure functions, thread-safe; ConfigMap and Secret values come through a RefResolver.
#ifndef SHUFFLE_TESTS_K8S_NODE_AGENT_POD_PLAN_H_
#define SHUFFLE_TESTS_K8S_NODE_AGENT_POD_PLAN_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "driver/kube/client.h"

namespace shuffle::node_agent {

struct ContainerPlan {
  std::string name;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<int> ready_port;  // tcpSocket or httpGet readiness probe: ready once it accepts
};

struct PodPlan {
  std::string ns;
  std::string name;
  std::string uid;
  std::string pod_ip;                    // status.podIP: PlanOptions::pod_ip, else the host IP
  std::string restart_policy;            // Always, OnFailure or Never
  std::vector<std::string> directories;  // to create before starting (volumes)
  // Files to write before starting: the keys of ConfigMap and Secret volumes. A ConfigMap's
  // text has the pod's mount paths rewritten like args and env (see RewritePaths).
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<ContainerPlan> containers;
};

struct PlanOptions {
  std::string node;
  std::string node_root;  // <root>/<node>
  std::string host_ip = "127.0.0.1";
  // This pod's own IP (status.podIP, the downward API's value); empty: the host IP (a
  // hostNetwork pod, or an agent that gives pods no addresses of their own).
  std::string pod_ip;
  // Image (or command name) -> absolute path of a local binary.
  std::map<std::string, std::string> image_map;
};

// Looks up a key of a ConfigMap ("configmaps") or Secret ("secrets", value decoded) in the
// pod's namespace. NOT_FOUND when the object or key is missing.
using RefResolver =
    std::function<absl::StatusOr<std::string>(const std::string& kind, const std::string& ns,
                                              const std::string& name, const std::string& key)>;
// Every key of a ConfigMap or Secret (for envFrom).
using MapResolver = std::function<absl::StatusOr<std::map<std::string, std::string>>(
    const std::string& kind, const std::string& ns, const std::string& name)>;

// INVALID_ARGUMENT / FAILED_PRECONDITION / NOT_FOUND naming the container and the field when the
// pod cannot be run here (no local binary for a command, an unsupported volume or env source).
absl::StatusOr<PodPlan> PlanPod(const kube::Json& pod, const PlanOptions& options,
                                const RefResolver& resolve_ref, const MapResolver& resolve_map);

// Replaces each `from` prefix (at a path boundary) in `text` by its `to`; `rewrites` is ordered
// longest `from` first.
std::string RewritePaths(const std::string& text,
                         const std::vector<std::pair<std::string, std::string>>& rewrites);

// Expands $(NAME) references to variables defined earlier, as the kubelet does; $$ is a literal $.
std::string ExpandVars(const std::string& text,
                       const std::vector<std::pair<std::string, std::string>>& env);

}  // namespace shuffle::node_agent

#endif  // SHUFFLE_TESTS_K8S_NODE_AGENT_POD_PLAN_H_
