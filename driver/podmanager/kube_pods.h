// The Kubernetes backend's view of executor pods, without any I/O: the pod an ExecutorLaunch
// becomes (labels app/role/executor-id, an ownerReference to the driver pod, resources, the
// node-local socket's hostPath, the node IP from the downward API, the servers' CA from a
// Secret when TLS is on), and what a watch event says
// about a pod (running, ended and how: exit code, eviction, deletion). Pure functions;
// thread-safe.
#ifndef SHUFFLE_DRIVER_PODMANAGER_KUBE_PODS_H_
#define SHUFFLE_DRIVER_PODMANAGER_KUBE_PODS_H_

#include <string>
#include <string_view>

#include "driver/podmanager/backend.h"
#include "nlohmann/json.hpp"

namespace shuffle::podmanager {

// How executor pods are made; shared by every executor of a driver.
struct ExecutorPodTemplate {
  std::string namespace_name = "default";
  std::string app_label;        // value of the `app` label: the application id
  std::string driver_pod_name;  // owner; empty: no ownerReference (driver outside the cluster)
  std::string driver_pod_uid;
  std::string image = "shuffle/shuffle:0.1.0";
  std::string executor_command = "/usr/local/bin/shuffle-executor";
  std::string service_account;  // empty: the namespace's default
  std::string cpu_per_slot = "1";
  std::string memory = "2Gi";
  std::string socket_dir = "/run/shuffle";  // the DaemonSet's socket hostPath
  std::string socket_name = "data.sock";
  int termination_grace_seconds = 10;
  // TLS to the servers' TCP planes (deploy/overlays/tls): the Secret in namespace_name whose
  // key `ca.crt` is the servers' CA; only that key is mounted, at tls_ca_dir. Empty: plaintext.
  std::string tls_ca_secret;
  std::string tls_ca_dir = "/etc/shuffle/tls-ca";
  // The name on the servers' certificate, checked when an executor dials a node's IP.
  std::string tls_server_name;
};

// The label selector that matches exactly this driver's executor pods.
std::string ExecutorSelector(const ExecutorPodTemplate& t);

// The Pod object for one executor (its name is the executor id, which must be a DNS label).
nlohmann::json ExecutorPod(const ExecutorPodTemplate& t, const ExecutorLaunch& launch);

// What one watch event or listed object says about an executor pod.
struct PodState {
  std::string executor_id;  // from the executor-id label; empty for a pod not of ours
  std::string node;         // spec.nodeName once scheduled
  bool ended = false;       // it will run no more: Succeeded, Failed, or DELETED
  bool evicted = false;     // ended by an eviction (reason Evicted or a DisruptionTarget)
  bool deleting = false;    // deletionTimestamp set, not gone yet
  bool succeeded = false;   // phase Succeeded: every container exited with code 0
  std::string detail;       // "exit code 1 (Error)", "evicted: The node was low on memory", ...
};

// `event_type` is the watch event's type (ADDED, MODIFIED, DELETED) or "" for a listed object.
// A DELETED event ends the pod whatever its status says (a force-deleted running pod arrives as
// DELETED with phase Running).
PodState InterpretPod(std::string_view event_type, const nlohmann::json& pod);

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_KUBE_PODS_H_
