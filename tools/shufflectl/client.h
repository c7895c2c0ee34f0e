// CtlClient: shufflectl's calls to a shuffle server's control plane (gRPC), each with a deadline
// and the operator secret, and with gRPC failures turned into messages that say what to do
// (start the server, fix --server, pass --secret-file, raise --timeout-seconds). Not
// thread-safe; one per command.
#ifndef SHUFFLE_TOOLS_SHUFFLECTL_CLIENT_H_
#define SHUFFLE_TOOLS_SHUFFLECTL_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "shuffle-server/handover/peer_spec.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::shufflectl {

class CtlClient {
 public:
  // `operator_secret` may be empty (a server without secrets); `channel` leads to `server`
  // (tls::NewGrpcChannel: plaintext or TLS).
  CtlClient(std::string server, std::shared_ptr<grpc::Channel> channel, std::string operator_secret,
            absl::Duration timeout);

  // Every application (app_id empty) or one.
  absl::StatusOr<proto::GetStatusResponse> GetStatus(const std::string& app_id);
  absl::StatusOr<proto::RemoveApplicationResponse> RemoveApplication(const std::string& app_id);
  absl::StatusOr<proto::ScrubShuffleResponse> ScrubShuffle(const std::string& app_id,
                                                           uint32_t shuffle_id);
  // `timeout_seconds` 0: the server's --drain-timeout-seconds.
  absl::StatusOr<proto::DrainResponse> Drain(uint32_t timeout_seconds);
  // `timeout_seconds` 0: the server's --drain-timeout-seconds.
  absl::StatusOr<proto::DecommissionResponse> Decommission(
      const std::vector<handover::PeerServer>& peers, uint32_t timeout_seconds);
  absl::StatusOr<proto::AdoptResponse> Adopt(const std::string& node);
  // grpc.health.v1.Health/Check of the whole server (service "").
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> Health();

 private:
  void Prepare(grpc::ClientContext* context) const;
  proto::AdminCredentials Admin() const;
  absl::Status Explain(const grpc::Status& status) const;

  const std::string server_;
  const std::string operator_secret_;
  const absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::ShuffleControl::Stub> stub_;
};

}  // namespace shuffle::shufflectl

#endif  // SHUFFLE_TOOLS_SHUFFLECTL_CLIENT_H_
