#include "shuffle-server/control/control_server.h"

#include <thread>
#include <utility>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::control {

using core::Kv;

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& address,
                                                                    ControlService* service,
                                                                    const tls::ServerFiles& tls) {
  if (address.empty()) {
    return absl::InvalidArgumentError(
        "control plane address is empty: pass host:port (e.g. 0.0.0.0:7338; port 0 picks one)");
  }
  auto credentials = tls::GrpcServerCredentials(tls);
  if (!credentials.ok()) {
    return core::Annotate(credentials.status(), "control plane");
  }
  // Process-wide; must precede building the server so the builder adds the health service.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which would let a second server share the port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int selected_port = 0;
  builder.AddListeningPort(address, *credentials, &selected_port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    if (server != nullptr) {
      server->Shutdown();
    }
    return absl::UnavailableError(absl::StrCat(
        "control plane cannot listen on ", address,
        ": the address is malformed or not local, or the port is in use; choose another "
        "host:port"));
  }
  std::unique_ptr<ControlServer> control(
      new ControlServer(std::move(server), service, address, static_cast<uint16_t>(selected_port)));
  control->SetServing(true);
  SHUFFLE_LOG(INFO) << "control plane serving" << Kv("address", address)
                    << Kv("port", selected_port)
                    << Kv("tls", !tls.enabled()               ? "off"
                                 : tls.client_ca_file.empty() ? "on"
                                                              : "mutual");
  return control;
}

ControlServer::ControlServer(std::unique_ptr<grpc::Server> server, const ControlService* service,
                             std::string address, uint16_t port)
    : server_(std::move(server)), service_(service), address_(std::move(address)), port_(port) {}

ControlServer::~ControlServer() {
  Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

void ControlServer::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return;
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) {
    return;
  }
  health->SetServingStatus(serving);  // "" and every service registered so far
  health->SetServingStatus(std::string(kControlServiceName), serving);
}

void ControlServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  SetServing(false);
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      return;
    }
    shut_down_ = true;
  }
  service_->rpcs().AwaitIdle(absl::FromChrono(deadline));
  const int64_t cancelled = service_->rpcs().in_flight();
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  SHUFFLE_LOG(INFO) << "control plane stopped" << Kv("address", address_) << Kv("port", port_)
                    << Kv("rpcs_cancelled", cancelled);
}

}  // namespace shuffle::control
