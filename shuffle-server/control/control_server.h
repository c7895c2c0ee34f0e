// ControlServer: the gRPC server that hosts the ControlService, plus the standard gRPC health
// checking service (grpc.health.v1.Health). Health reports SERVING for "" and
// "shuffle.proto.ShuffleControl" once started, NOT_SERVING after SetServing(false) or Shutdown().
// Plaintext, or TLS from the server's certificate files (tls::GrpcServerCredentials: reloaded
// on rotation, optional mutual TLS).
//
// Thread-safety: every method may be called from any thread, except that Shutdown() (and the
// destructor) must not be called from inside an RPC handler.
#ifndef SHUFFLE_SERVER_CONTROL_CONTROL_SERVER_H_
#define SHUFFLE_SERVER_CONTROL_CONTROL_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/control/control_service.h"

namespace shuffle::control {

// The gRPC service name health checks ask about, besides "" (the whole server).
inline constexpr std::string_view kControlServiceName = "shuffle.proto.ShuffleControl";

class ControlServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free port, see port()) and serves
  // `service`, which must outlive the server. UNAVAILABLE, naming the address, when it cannot
  // listen there. With `tls` enabled, only TLS clients are served (INVALID_ARGUMENT naming a
  // certificate file that cannot be loaded).
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(const std::string& address,
                                                              ControlService* service,
                                                              const tls::ServerFiles& tls = {});

  // Shutdown() with a one-second grace period.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The bound port.
  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }

  // Sets the health status of "" and kControlServiceName; RPCs keep being served either way.
  // A server going away calls SetServing(false) first so load balancers stop sending to it.
  void SetServing(bool serving);

  // Health NOT_SERVING, waits until no RPC is running or `deadline` passes, then stops: RPCs
  // still running (or just arriving) are cancelled, connections closed, gRPC's threads joined.
  // (Not grpc::Server::Shutdown(deadline) alone: it also waits out idle client connections.)
  // Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  ControlServer(std::unique_ptr<grpc::Server> server, const ControlService* service,
                std::string address, uint16_t port);

  std::unique_ptr<grpc::Server> server_;
  const ControlService* const service_;
  const std::string address_;
  const uint16_t port_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shuffle::control

#endif  // SHUFFLE_SERVER_CONTROL_CONTROL_SERVER_H_
