// Server: one shuffle-server, in process. Start() opens the storage engine (recovering what a
// previous run left), then starts, in this order: the gRPC control plane (with the Drainer), the
// listeners that serve requests (the data plane first), the metrics endpoint and the idle
// application reaper, and finally writes the ready file (core/ready_file.h) with every bound
// address. Stop() undoes it in the order that loses nothing:
//   1. the Drainer: health NOT_SERVING; pushes, commits and registrations refused; commits in
//      flight finished; data synced (the Drain RPC's procedure); then, with --handover-on-stop
//      and the node going away, the hand-over of every committed map output to peers
//      (server_handover.h), reads still served;
//   2. every listener drained (its requests in flight finished, responses written), in start
//      order, within what is left of --drain-timeout-seconds;
//   3. every listener stopped, in reverse start order;
//   4. the control plane shut down (RPCs still running are cancelled after 5 s);
//   5. the reaper and the metrics endpoint stopped, the engine closed, the ready file removed.
// shuffle-server's main() is this class, the flags and the signals; tests run it in process.
//
// A new kind of listener (another protocol) implements Listener and is added to
// StandardListeners(); see docs/architecture.md.
//
// Thread-safety: Start() and Stop() from one thread (not from a listener's own threads);
// addresses() and engine() from any thread while the server runs.
#ifndef SHUFFLE_SERVER_SERVER_H_
#define SHUFFLE_SERVER_SERVER_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shuffle-server/ops/server_metrics.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle-server/server_options.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/core/ready_file.h"

namespace shuffle::server {

// What a listener is started with. Everything outlives the listener.
struct ListenerContext {
  const ServerOptions* options = nullptr;
  storage::StorageEngine* engine = nullptr;
  const security::TokenAuthority* tokens = nullptr;  // null: the server is unauthenticated
  tls::ReloadingServerContext* tls = nullptr;        // null: TCP listeners are plaintext
  uint16_t control_port = 0;  // the control plane's bound port (map statuses carry it)
};

// A network service that serves requests from the storage engine: the data plane, and any other
// protocol. Started after the control plane, drained after the engine stops taking writes,
// stopped before the engine closes.
class Listener {
 public:
  virtual ~Listener() = default;
  // Adds the addresses it is bound to (one ready-file key each).
  virtual void Announce(core::ReadyFile* ready) const = 0;
  // Lets it add to the /metrics page's sources.
  virtual void AddMetricsSources(ops::MetricsSources* /*sources*/) const {}
  // Stops accepting connections and waits until no request is in flight and every response is
  // written, or `deadline` passes (DEADLINE_EXCEEDED; Stop() then cancels what is left).
  virtual absl::Status Drain(absl::Time deadline) = 0;
  // Closes its connections and joins its threads. Called once, after Drain.
  virtual void Stop() = 0;
};

// Starts a listener; a null listener (not an error) means it is not configured.
using ListenerFactory =
    std::function<absl::StatusOr<std::unique_ptr<Listener>>(const ListenerContext& context)>;

// The listeners a shuffle-server runs, in start order: the data plane (TCP and Unix socket), then
// Spark's shuffle-service protocol (with --spark-local-dirs-root).
std::vector<ListenerFactory> StandardListeners();

class Server {
 public:
  // Starts everything (see above) and writes options.ready_file when it is set. On an error,
  // what already started is stopped again (no drain: nothing was served) and the error names
  // what failed.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options,
      const std::vector<ListenerFactory>& listeners = StandardListeners());
  // Stop().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Drains and stops, in the order above, within options.drain_timeout_seconds. Idempotent.
  void Stop();

  // The bound addresses (what the ready file says).
  const core::ReadyFile& addresses() const { return addresses_; }
  // REQUIRES: the server runs (Stop() closes the engine).
  storage::StorageEngine& engine() const;

 private:
  struct Parts;

  explicit Server(const ServerOptions& options);
  absl::Status StartAll(const std::vector<ListenerFactory>& listeners);

  const ServerOptions options_;
  std::unique_ptr<Parts> parts_;
  core::ReadyFile addresses_;
};

}  // namespace shuffle::server

#endif  // SHUFFLE_SERVER_SERVER_H_
