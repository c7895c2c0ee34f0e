// KubeBackend: the executor pod manager's Kubernetes backend. Executors are pods (ExecutorPod:
// labels, an ownerReference to the driver pod, the node-local socket) created through the API
// server; a PodWatcher (label-selected list and watch, bookmarks, relist on 410, periodic
// resync, DELETED authoritative) turns their changes into backend events; releasing deletes a
// pod with its grace period, evicting goes through the Eviction API. Nodes are where the
// shuffle-server DaemonSet has a pod: the server of a node is reached at the node's IP
// (hostPorts 7340 and 7338).
//
// Nodes: when the driver may list Node objects (the shuffle-driver-nodes ClusterRole), a thread
// polls them: a node whose Node object is deleted has lost its server for good (kServerLost at
// once, rather than after readers fail to fetch from it), and a cordoned or tainted node is
// `leaving` in Nodes(). Without that permission it logs so once and the driver learns of lost
// nodes from fetch failures only.
//
// Start() checks the permissions the driver needs (SelfSubjectAccessReview) and fails fast with
// the missing verb and resource. Pod creation runs on a launcher thread: 403 and quota refusals
// are logged clearly and retried with backoff, and a launch that keeps failing ends as an
// executor exit, which the PodManager reports as fatal after several in a row.
//
// Thread-safe.
#ifndef SHUFFLE_DRIVER_PODMANAGER_KUBE_BACKEND_H_
#define SHUFFLE_DRIVER_PODMANAGER_KUBE_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "driver/kube/client.h"
#include "driver/podmanager/backend.h"
#include "driver/podmanager/kube_pods.h"
#include "driver/podmanager/pod_watcher.h"

namespace shuffle::podmanager {

struct KubeBackendOptions {
  ExecutorPodTemplate pod;
  std::string server_namespace = "shuffle-system";
  std::string server_selector = "app.kubernetes.io/name=shuffle,app.kubernetes.io/component=server";
  uint16_t data_port = 7340;
  uint16_t control_port = 7338;
  std::chrono::milliseconds resync{std::chrono::minutes(5)};
  // Pod creation: retries of refusals (403, quota, 429, 5xx) before the launch counts as failed.
  int create_attempts = 6;
  std::chrono::milliseconds create_backoff{500};
  // How often Node objects are listed (deletions, cordons, taints).
  std::chrono::milliseconds node_poll{1000};
};

// The permission checks Start() makes; exposed for tests.
struct Permission {
  std::string verb;
  std::string resource;
  std::string subresource;
};
const std::vector<Permission>& RequiredPermissions();

class KubeBackend final : public Backend {
 public:
  // REQUIRES: `client` outlives the backend. PERMISSION_DENIED naming the first missing
  // permission ("... cannot create pods/eviction in namespace X: grant it with the
  // shuffle-driver ClusterRole (deploy/base/rbac.yaml)").
  static absl::StatusOr<std::unique_ptr<KubeBackend>> Start(const kube::Client* client,
                                                            KubeBackendOptions options);
  ~KubeBackend() override;
  KubeBackend(const KubeBackend&) = delete;
  KubeBackend& operator=(const KubeBackend&) = delete;

  void SetEventCallback(EventCallback callback) override;
  std::vector<NodeInfo> Nodes() const override;
  absl::Status LaunchExecutor(const ExecutorLaunch& launch) override;
  absl::Status ReleaseExecutor(const std::string& executor_id) override;
  absl::Status EvictExecutor(const std::string& executor_id) override;

  PodWatcher::Stats watch_stats() const { return watcher_->stats(); }

 private:
  class Source;
  struct Executor {
    std::string node;
    bool created = false;
    bool released = false;
    bool evicted = false;
  };

  KubeBackend(const kube::Client* client, KubeBackendOptions options);
  void OnPod(const PodState& state);
  void Launcher();
  // The node thread: lists Node objects every options_.node_poll until stopping.
  void WatchNodes();
  // One listing: deleted nodes become kServerLost events, leaving ones are noted.
  void PollNodes();
  absl::Status CreateWithRetries(const ExecutorLaunch& launch);
  void Emit(const BackendEvent& event);

  const kube::Client* const client_;
  const KubeBackendOptions options_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<PodWatcher> watcher_;
  std::thread watch_thread_;
  std::thread launch_thread_;
  std::thread node_thread_;  // joinable only when the driver may list nodes

  absl::Mutex callback_mu_;  // held while an event is delivered (see Backend)
  EventCallback callback_ ABSL_GUARDED_BY(callback_mu_);

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<ExecutorLaunch> to_create_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Executor> executors_ ABSL_GUARDED_BY(mu_);
  // Node objects last listed: name -> why it is leaving ("" while it stays); and the nodes whose
  // Node object was deleted (their servers are lost).
  std::map<std::string, std::string> nodes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> deleted_nodes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_KUBE_BACKEND_H_
