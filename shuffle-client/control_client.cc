#include "shuffle/client/control_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "shuffle-client/frame_connection.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::client {

struct ControlClient::Stubs {
  tls::ClientFiles tls;
  absl::Status error;  // the TLS files could not be loaded: every call returns it
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<proto::ShuffleControl::Stub> control;
};

namespace {

absl::Status FromGrpc(const grpc::Status& st, const std::string& what, const std::string& address) {
  if (st.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(
      static_cast<absl::StatusCode>(st.error_code()),
      absl::StrCat(what, " on the shuffle server at ", address, ": ", st.error_message()));
}

std::unique_ptr<grpc::ClientContext> Context(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  context->set_wait_for_ready(true);  // a server restarting is waited for, up to the deadline
  return context;
}

proto::Credentials Credentials(const std::string& app_id, const std::string& token) {
  proto::Credentials c;
  c.set_app_id(app_id);
  c.set_token(token);
  return c;
}

}  // namespace

ControlClient::ControlClient(std::string address, std::chrono::milliseconds call_timeout)
    : ControlClient(std::move(address), call_timeout, ClientOptions{}) {}

ControlClient::ControlClient(std::string address, std::chrono::milliseconds call_timeout,
                             const ClientOptions& tls_options)
    : address_(std::move(address)), call_timeout_(call_timeout), stubs_(std::make_unique<Stubs>()) {
  stubs_->tls = TlsFiles(tls_options);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      tls::NewGrpcChannel(address_, stubs_->tls);
  if (!channel.ok()) {
    stubs_->error = core::Annotate(
        channel.status(), absl::StrCat("the shuffle server's control plane at ", address_));
    return;
  }
  stubs_->channel = *std::move(channel);
  stubs_->control = proto::ShuffleControl::NewStub(stubs_->channel);
}

ControlClient::~ControlClient() = default;

absl::StatusOr<std::string> ControlClient::RegisterApplication(
    const std::string& app_id, const std::string& namespace_name,
    const std::string& identity_token) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::RegisterApplicationRequest request;
  request.set_app_id(app_id);
  request.set_namespace_(namespace_name);
  request.set_identity_token(identity_token);
  proto::RegisterApplicationResponse response;
  SHUFFLE_RETURN_IF_ERROR(FromGrpc(
      stubs_->control->RegisterApplication(Context(call_timeout_).get(), request, &response),
      "registering application " + app_id, address_));
  return response.token();
}

absl::Status ControlClient::RegisterShuffle(const std::string& app_id, const std::string& token,
                                            core::ShuffleId shuffle, uint32_t num_maps,
                                            uint32_t num_partitions) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::RegisterShuffleRequest request;
  *request.mutable_credentials() = Credentials(app_id, token);
  request.set_shuffle_id(shuffle.value());
  request.set_num_maps(num_maps);
  request.set_num_partitions(num_partitions);
  proto::RegisterShuffleResponse response;
  return FromGrpc(
      stubs_->control->RegisterShuffle(Context(call_timeout_).get(), request, &response),
      absl::StrCat("registering shuffle ", app_id, "/", shuffle.value()), address_);
}

absl::Status ControlClient::SealShuffle(const std::string& app_id, const std::string& token,
                                        core::ShuffleId shuffle) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::SealShuffleRequest request;
  *request.mutable_credentials() = Credentials(app_id, token);
  request.set_shuffle_id(shuffle.value());
  proto::SealShuffleResponse response;
  return FromGrpc(stubs_->control->SealShuffle(Context(call_timeout_).get(), request, &response),
                  absl::StrCat("sealing shuffle ", app_id, "/", shuffle.value()), address_);
}

absl::StatusOr<uint64_t> ControlClient::RemoveShuffle(const std::string& app_id,
                                                      const std::string& token,
                                                      core::ShuffleId shuffle) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::RemoveShuffleRequest request;
  *request.mutable_credentials() = Credentials(app_id, token);
  request.set_shuffle_id(shuffle.value());
  proto::RemoveShuffleResponse response;
  SHUFFLE_RETURN_IF_ERROR(
      FromGrpc(stubs_->control->RemoveShuffle(Context(call_timeout_).get(), request, &response),
               absl::StrCat("removing shuffle ", app_id, "/", shuffle.value()), address_));
  return response.freed_bytes();
}

absl::StatusOr<uint64_t> ControlClient::RemoveApplication(const std::string& app_id,
                                                          const std::string& token) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::RemoveApplicationRequest request;
  *request.mutable_credentials() = Credentials(app_id, token);
  proto::RemoveApplicationResponse response;
  SHUFFLE_RETURN_IF_ERROR(
      FromGrpc(stubs_->control->RemoveApplication(Context(call_timeout_).get(), request, &response),
               "removing application " + app_id, address_));
  return response.freed_bytes();
}

absl::StatusOr<ControlClient::MovedOutputs> ControlClient::GetMovedOutputs(
    const std::string& app_id, const std::string& token) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::GetMovedOutputsRequest request;
  *request.mutable_credentials() = Credentials(app_id, token);
  proto::GetMovedOutputsResponse response;
  SHUFFLE_RETURN_IF_ERROR(
      FromGrpc(stubs_->control->GetMovedOutputs(Context(call_timeout_).get(), request, &response),
               "asking for the moved map outputs of application " + app_id, address_));
  MovedOutputs out;
  out.running = response.state() == proto::GetMovedOutputsResponse::RUNNING;
  out.done = response.state() == proto::GetMovedOutputsResponse::DONE;
  for (const proto::MovedMapOutput& m : response.moved()) {
    SHUFFLE_ASSIGN_OR_RETURN(MapStatus status, MapStatus::Parse(m.status().SerializeAsString()));
    out.moved.push_back(std::move(status));
  }
  return out;
}

absl::StatusOr<ControlClient::Adoption> ControlClient::Adopt(
    const std::string& app_id, const std::string& token, const std::string& node,
    std::chrono::milliseconds timeout) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  proto::AdoptRequest request;
  *request.mutable_credentials() = Credentials(app_id, token);
  request.set_node(node);
  proto::AdoptResponse response;
  SHUFFLE_RETURN_IF_ERROR(FromGrpc(
      stubs_->control->Adopt(Context(timeout).get(), request, &response),
      absl::StrCat("asking to adopt node ", node, "'s data for application ", app_id), address_));
  return Adoption{.node = response.node(),
                  .data_address = response.data_address(),
                  .control_address = response.control_address(),
                  .adopted_by = response.adopted_by(),
                  .already_adopted = response.already_adopted(),
                  .commits_recovered = response.commits_recovered()};
}

absl::Status ControlClient::Probe(std::chrono::milliseconds timeout) const {
  SHUFFLE_RETURN_IF_ERROR(stubs_->error);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  // A channel of its own: the shared one may be in a reconnect backoff after an earlier failure
  // and would answer UNAVAILABLE at once, so a partition (no answer) would pass for a restart.
  SHUFFLE_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                           tls::NewGrpcChannel(address_, stubs_->tls));
  auto health = grpc::health::v1::Health::NewStub(channel);
  const grpc::Status st = health->Check(&context, request, &response);
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(absl::StrCat("the shuffle server at ", address_,
                                                    " did not answer its health check within ",
                                                    timeout.count(), " ms"));
  }
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat("the shuffle server at ", address_,
                                               " refused its health check: ", st.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace shuffle::client
