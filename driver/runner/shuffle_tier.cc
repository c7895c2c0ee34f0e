#include "driver/runner/shuffle_tier.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::runner {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(20);

absl::Status FromGrpc(const grpc::Status& st, const std::string& what, const std::string& address) {
  if (st.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(
      static_cast<absl::StatusCode>(st.error_code()),
      absl::StrCat(what, " on the shuffle server at ", address, ": ", st.error_message()));
}

std::unique_ptr<proto::ShuffleControl::Stub> Stub(const std::string& address) {
  return proto::ShuffleControl::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  context->set_wait_for_ready(true);  // a server restarting is waited for, up to the deadline
  return context;
}

}  // namespace

absl::StatusOr<std::string> ShuffleTier::Prepare(const std::string& control_address,
                                                 core::ShuffleId shuffle, uint32_t num_maps,
                                                 uint32_t num_partitions) const {
  auto stub = Stub(control_address);
  proto::RegisterApplicationRequest app;
  app.set_app_id(app_id_);
  app.set_namespace_(namespace_);
  app.set_identity_token(operator_secret_);
  proto::RegisterApplicationResponse registered;
  SHUFFLE_RETURN_IF_ERROR(FromGrpc(stub->RegisterApplication(Context().get(), app, &registered),
                                   "registering application " + app_id_, control_address));
  proto::RegisterShuffleRequest request;
  request.mutable_credentials()->set_app_id(app_id_);
  request.mutable_credentials()->set_token(registered.token());
  request.set_shuffle_id(shuffle.value());
  request.set_num_maps(num_maps);
  request.set_num_partitions(num_partitions);
  proto::RegisterShuffleResponse response;
  SHUFFLE_RETURN_IF_ERROR(FromGrpc(stub->RegisterShuffle(Context().get(), request, &response),
                                   absl::StrCat("registering shuffle ", shuffle.value()),
                                   control_address));
  return registered.token();
}

absl::Status ShuffleTier::Seal(const std::string& control_address, const std::string& token,
                               core::ShuffleId shuffle) const {
  proto::SealShuffleRequest request;
  request.mutable_credentials()->set_app_id(app_id_);
  request.mutable_credentials()->set_token(token);
  request.set_shuffle_id(shuffle.value());
  proto::SealShuffleResponse response;
  return FromGrpc(Stub(control_address)->SealShuffle(Context().get(), request, &response),
                  absl::StrCat("sealing shuffle ", shuffle.value()), control_address);
}

absl::Status ShuffleTier::Probe(const std::string& control_address,
                                std::chrono::milliseconds timeout) const {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(control_address, grpc::InsecureChannelCredentials()));
  const grpc::Status st = stub->Check(&context, request, &response);
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(absl::StrCat("the shuffle server at ", control_address,
                                                    " did not answer its health check within ",
                                                    timeout.count(), " ms"));
  }
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat("the shuffle server at ", control_address,
                                               " refused its health check: ", st.error_message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ShuffleTier::RemoveApplication(const std::string& control_address,
                                                        const std::string& token) const {
  proto::RemoveApplicationRequest request;
  request.mutable_credentials()->set_app_id(app_id_);
  request.mutable_credentials()->set_token(token);
  proto::RemoveApplicationResponse response;
  SHUFFLE_RETURN_IF_ERROR(
      FromGrpc(Stub(control_address)->RemoveApplication(Context().get(), request, &response),
               "removing application " + app_id_, control_address));
  return response.freed_bytes();
}

}  // namespace shuffle::runner
