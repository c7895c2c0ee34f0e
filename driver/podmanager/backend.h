// Backend: where executors run, seen by the executor pod manager. A backend knows the nodes of
// its cluster and the shuffle server on each, starts executors ("pods") from an ExecutorLaunch,
// stops them gracefully or evicts them, and reports what happens to them through events.
// Implementations: LocalBackend (processes on this machine, one simulated node per server) and,
// later, a Kubernetes backend (pods through the API server).
//
// Implementations are thread-safe; events are delivered on a backend thread, one at a time.
#ifndef SHUFFLE_DRIVER_PODMANAGER_BACKEND_H_
#define SHUFFLE_DRIVER_PODMANAGER_BACKEND_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace shuffle::podmanager {

struct NodeInfo {
  std::string name;
  std::string data_address;     // the shuffle server's data plane, "host:port"
  std::string control_address;  // its control plane (gRPC), "host:port"
  bool server_up = false;
  uint32_t executors = 0;
  // Why the node is going away (cordoned, tainted for termination, being deleted; see
  // kube::NodeLeavingReason); empty while it stays. Its server still serves what it holds, and
  // hands it over on its way out, but takes no second copies.
  std::string leaving;
};

// What an executor needs to be started.
struct ExecutorLaunch {
  std::string executor_id{};
  std::string driver_address{};  // the driver's gRPC service
  std::string secret{};          // the job secret the executor presents to the driver
  uint32_t slots = 1;            // tasks run at once
};

// A map output a draining node's server handed over to a peer: its application and its new
// MapStatus, serialized (shuffle.proto.MapStatus; client::MapStatus::Parse).
struct MovedOutput {
  std::string app_id;
  std::string status;
};

struct BackendEvent {
  enum class Kind {
    kExecutorExited,  // any end: exit, crash, eviction, release
    kServerLost,      // a node's shuffle server is gone for good (node lost or deleted, data gone)
    kOutputsMoved,    // a draining node's server handed map outputs over to peers (`moved`)
  };
  Kind kind = Kind::kExecutorExited;
  std::string executor_id;
  std::string node;
  std::string detail;     // "exit code 1", "evicted (SIGKILL)", ...
  bool evicted = false;   // ended by an eviction
  bool released = false;  // ended because the pod manager released it
  // Exited with code 0 on its own: the driver told it to stop (its job is over, or it no longer
  // knows the executor). Not a crash.
  bool clean = false;
  // kOutputsMoved: every output moved (of every application). Delivered before the node's
  // kServerLost.
  std::vector<MovedOutput> moved{};
};

class Backend {
 public:
  using EventCallback = std::function<void(const BackendEvent&)>;
  virtual ~Backend() = default;

  // Events are delivered to `callback` from now on (nullptr: to no one). When it returns, the
  // previous callback is not running and will not be called again.
  virtual void SetEventCallback(EventCallback callback) = 0;
  virtual std::vector<NodeInfo> Nodes() const = 0;
  // Starts an executor on a node with a running shuffle server. UNAVAILABLE when there is none.
  virtual absl::Status LaunchExecutor(const ExecutorLaunch& launch) = 0;
  // Asks an executor to exit (SIGTERM, or a pod deletion with a grace period).
  virtual absl::Status ReleaseExecutor(const std::string& executor_id) = 0;
  // Evicts an executor at once, as a kubelet under pressure does (SIGKILL, or the Eviction API).
  virtual absl::Status EvictExecutor(const std::string& executor_id) = 0;
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_BACKEND_H_
