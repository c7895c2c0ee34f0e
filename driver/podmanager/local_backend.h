// LocalBackend: the embedded backend of the executor pod manager. It simulates a cluster of N
// nodes on this machine: each node is a directory with its own shuffle-server process (Unix
// socket, TCP ports on loopback), and executors are processes placed on the node with the fewest
// executors. The servers' data directories are ROOT/shared/<node>, which every server is given
// as its shared volume (--adopt-root), as on an RWX volume (deploy/overlays/rwx-pvc). Like a
// DaemonSet, a server that crashes is restarted on the same ports with the same data;
// StopServer() takes a node's server away for good, as node loss does.
//
// Every process is killed when the backend is destroyed (and, through PR_SET_PDEATHSIG, when this
// process dies). Thread-safe.
#ifndef SHUFFLE_DRIVER_PODMANAGER_LOCAL_BACKEND_H_
#define SHUFFLE_DRIVER_PODMANAGER_LOCAL_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/tls/tls_context.h"
#include "driver/podmanager/backend.h"
#include "driver/podmanager/disk_throttle.h"
#include "driver/podmanager/node_network.h"
#include "shuffle/core/process.h"

namespace shuffle::podmanager {

struct LocalBackendOptions {
  std::string root;  // node-N/ and executors/ are created under it
  uint32_t nodes = 3;
  std::string server_binary;
  std::string executor_binary;
  std::vector<std::string> server_args;  // extra flags for every server
  // TLS on every server's TCP planes (certificate and key: they must name the nodes' addresses,
  // 127.0.0.1 without isolated networks), and the CA that executors, hand-overs between servers
  // and the decommission calls check them with. Empty: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  // Generate a cluster token secret and an operator secret, so servers check every request.
  bool authenticated = true;
  std::chrono::milliseconds ready_timeout{30000};
  // Give each node a network namespace of its own (NodeNetwork) so Partition() can cut one off.
  // Needs root; without it every node shares loopback.
  bool isolated_network = false;
};

class LocalBackend final : public Backend {
 public:
  // Starts every node's server and waits until each is ready. The error names the node and
  // quotes the end of its log when a server does not come up.
  static absl::StatusOr<std::unique_ptr<LocalBackend>> Start(LocalBackendOptions options);
  ~LocalBackend() override;
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;

  void SetEventCallback(EventCallback callback) override;
  std::vector<NodeInfo> Nodes() const override;
  absl::Status LaunchExecutor(const ExecutorLaunch& launch) override;
  absl::Status ReleaseExecutor(const std::string& executor_id) override;
  absl::Status EvictExecutor(const std::string& executor_id) override;

  // The secret a driver presents to register an application ("" when not authenticated).
  const std::string& operator_secret() const { return operator_secret_; }
  // How clients reach the servers' control planes (the CA of tls_ca_file; empty: plaintext).
  tls::ClientFiles ControlTls() const {
    tls::ClientFiles files;
    files.ca_file = options_.tls_ca_file;
    return files;
  }

  // Node loss: SIGKILLs the node's server and executors; with `remove_data` its data directory
  // is deleted (a node's own disk gone with it), else it stays on the shared volume for another
  // server to adopt. The server is not restarted; a kServerLost event follows.
  absl::Status StopServer(const std::string& node, bool remove_data);
  // Node drain (scale-down, upgrade, spot notice): the node's server is decommissioned with the
  // other serving nodes as peers (it drains and hands its committed map outputs over to them,
  // within `grace`), a kOutputsMoved event carries their new places (delivered on the caller's
  // thread before this returns), and then the node is lost
  // as with StopServer(node, true). What could not be moved falls back to re-runs.
  struct DrainResult {
    uint64_t maps = 0;  // committed outputs the node held
    uint64_t moved = 0;
    uint64_t bytes_moved = 0;
    double seconds = 0;
  };
  absl::StatusOr<DrainResult> DrainNode(const std::string& node, std::chrono::seconds grace);
  // A server crash: SIGKILL; the backend restarts it like a DaemonSet would.
  absl::Status KillServer(const std::string& node);
  // A rolling update: SIGTERM (the server drains); the backend restarts it.
  absl::Status TerminateServer(const std::string& node);
  // The node's disk is full: its server is restarted with a free-space watermark above what the
  // disk has, so it refuses writes (RESOURCE_EXHAUSTED naming the directory) and keeps serving
  // what it holds.
  absl::Status FillDisk(const std::string& node);
  // A network partition (needs isolated_network): the node's link goes down, so nothing reaches
  // it or leaves it while its processes keep running; `cut` false heals it. A partitioned node
  // gets no new executors, like a NotReady node.
  absl::Status Partition(const std::string& node, bool cut);
  // A slow disk: the node's server (now and after restarts) reads and writes its data directory
  // at no more than `bytes_per_second` (DiskThrottle).
  absl::Status SlowDisk(const std::string& node, uint64_t bytes_per_second);
  // Where executors reach the driver: the bridge's address with isolated_network, else loopback.
  std::string driver_host() const;
  // An executor crash (SIGKILL, not an eviction).
  absl::Status KillExecutor(const std::string& executor_id);
  // Times a server has been started (1 + restarts).
  uint32_t ServerStarts(const std::string& node) const;
  // Executor ids running now, on `node` (all nodes when empty).
  std::vector<std::string> Executors(const std::string& node = "") const;

 private:
  struct Node {
    std::string name;
    uint32_t index = 0;
    std::string dir;
    std::unique_ptr<core::Process> server;
    std::string data_address;
    std::string control_address;
    uint16_t data_port = 0;
    uint16_t control_port = 0;
    bool lost = false;
    uint32_t starts = 0;
    std::chrono::steady_clock::time_point restart_after{};  // backoff after a failed restart
    std::vector<std::string> extra_args;                    // FillDisk's watermark
    bool partitioned = false;
    std::unique_ptr<DiskThrottle> throttle;  // SlowDisk's
  };
  struct Executor {
    std::string node;
    std::unique_ptr<core::Process> process;
    bool evicted = false;
    bool released = false;
  };

  explicit LocalBackend(LocalBackendOptions options) : options_(std::move(options)) {}
  absl::Status WriteSecrets();
  absl::Status StartServer(Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ROOT/shared, the simulated shared volume, and a node's data directory in it.
  std::string SharedRoot() const;
  std::string DataDir(const Node& node) const;
  void Monitor();
  std::vector<BackendEvent> Reap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Node* FindNode(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SignalServer(const std::string& node, int signal);

  const LocalBackendOptions options_;
  std::string cluster_secret_file_;
  std::string operator_secret_file_;
  std::string operator_secret_;
  std::unique_ptr<NodeNetwork> network_;  // with isolated_network; set before the servers start

  // Held while an event is delivered, so that after SetEventCallback() returns the previous
  // callback is not running and never runs again. Taken before mu_, never while holding it.
  absl::Mutex callback_mu_;
  EventCallback callback_ ABSL_GUARDED_BY(callback_mu_);
  mutable absl::Mutex mu_;
  std::vector<Node> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Executor> executors_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread monitor_;
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_LOCAL_BACKEND_H_
