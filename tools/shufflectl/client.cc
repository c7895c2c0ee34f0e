#include "tools/shufflectl/client.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shuffle::shufflectl {

CtlClient::CtlClient(std::string server, std::shared_ptr<grpc::Channel> channel,
                     std::string operator_secret, absl::Duration timeout)
    : server_(std::move(server)),
      operator_secret_(std::move(operator_secret)),
      timeout_(timeout),
      channel_(std::move(channel)),
      stub_(proto::ShuffleControl::NewStub(channel_)) {}

void CtlClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
}

proto::AdminCredentials CtlClient::Admin() const {
  proto::AdminCredentials admin;
  admin.set_operator_secret(operator_secret_);
  return admin;
}

absl::Status CtlClient::Explain(const grpc::Status& status) const {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  const std::string& message = status.error_message();
  std::string hint;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(absl::StrCat(
          "cannot reach the shuffle server's control plane at ", server_, " (", message,
          "): is the server running, is --server its control-plane address, and does it "
          "speak TLS (--tls-ca-file)?"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (absl::StartsWith(message, "Deadline Exceeded")) {  // gRPC's own, not the server's
        return absl::DeadlineExceededError(absl::StrCat("no answer from ", server_, " within ",
                                                        absl::FormatDuration(timeout_),
                                                        ": raise --timeout-seconds"));
      }
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      if (!absl::StrContains(message, "--secret-file")) {
        hint = "; pass --secret-file=PATH with the server's operator secret";
      }
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      if (!operator_secret_.empty()) {
        hint = "; --secret-file does not hold this server's operator secret";
      }
      break;
    default:
      break;
  }
  return absl::Status(code, absl::StrCat(message, hint));
}

absl::StatusOr<proto::GetStatusResponse> CtlClient::GetStatus(const std::string& app_id) {
  proto::GetStatusRequest request;
  *request.mutable_admin() = Admin();
  request.set_app_id(app_id);
  proto::GetStatusResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status = stub_->GetStatus(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

absl::StatusOr<proto::RemoveApplicationResponse> CtlClient::RemoveApplication(
    const std::string& app_id) {
  proto::RemoveApplicationRequest request;
  *request.mutable_admin() = Admin();
  request.mutable_credentials()->set_app_id(app_id);
  proto::RemoveApplicationResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status = stub_->RemoveApplication(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

absl::StatusOr<proto::ScrubShuffleResponse> CtlClient::ScrubShuffle(const std::string& app_id,
                                                                    uint32_t shuffle_id) {
  proto::ScrubShuffleRequest request;
  *request.mutable_admin() = Admin();
  request.mutable_credentials()->set_app_id(app_id);
  request.set_shuffle_id(shuffle_id);
  proto::ScrubShuffleResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status = stub_->ScrubShuffle(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

absl::StatusOr<proto::DrainResponse> CtlClient::Drain(uint32_t timeout_seconds) {
  proto::DrainRequest request;
  *request.mutable_admin() = Admin();
  request.set_timeout_seconds(timeout_seconds);
  proto::DrainResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status = stub_->Drain(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

absl::StatusOr<proto::DecommissionResponse> CtlClient::Decommission(
    const std::vector<handover::PeerServer>& peers, uint32_t timeout_seconds) {
  proto::DecommissionRequest request;
  *request.mutable_admin() = Admin();
  for (const handover::PeerServer& peer : peers) {
    proto::Peer* p = request.add_peers();
    p->set_data_address(peer.data_address);
    p->set_control_address(peer.control_address);
  }
  request.set_timeout_seconds(timeout_seconds);
  proto::DecommissionResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status = stub_->Decommission(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

absl::StatusOr<proto::AdoptResponse> CtlClient::Adopt(const std::string& node) {
  proto::AdoptRequest request;
  *request.mutable_admin() = Admin();
  request.set_node(node);
  proto::AdoptResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status = stub_->Adopt(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse> CtlClient::Health() {
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  Prepare(&context);
  grpc::Status status =
      grpc::health::v1::Health::NewStub(channel_)->Check(&context, request, &response);
  if (!status.ok()) {
    return Explain(status);
  }
  return response;
}

}  // namespace shuffle::shufflectl
