#include "driver/podmanager/decommission.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::podmanager {

// Time the server gets past the grace period to answer.
constexpr auto kAnswerMargin = std::chrono::seconds(5);

absl::StatusOr<DecommissionResult> Decommission(const std::string& control_address,
                                                const std::string& operator_secret,
                                                const std::vector<DecommissionPeer>& peers,
                                                std::chrono::seconds grace,
                                                const tls::ClientFiles& tls) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      tls::NewGrpcChannel(control_address, tls);
  if (!channel.ok()) {
    return core::Annotate(channel.status(), "decommissioning " + control_address);
  }
  auto stub = proto::ShuffleControl::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + grace + kAnswerMargin);
  proto::DecommissionRequest request;
  request.mutable_admin()->set_operator_secret(operator_secret);
  for (const DecommissionPeer& peer : peers) {
    proto::Peer* p = request.add_peers();
    p->set_data_address(peer.data_address);
    p->set_control_address(peer.control_address);
  }
  request.set_timeout_seconds(static_cast<uint32_t>(grace.count()));
  proto::DecommissionResponse response;
  const grpc::Status st = stub->Decommission(&context, request, &response);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("decommissioning the shuffle server at ", control_address,
                                     ": ", st.error_message()));
  }
  DecommissionResult result;
  result.maps = response.maps();
  for (const proto::MovedMapOutput& moved : response.moved()) {
    result.moved.push_back(
        MovedOutput{.app_id = moved.app_id(), .status = moved.status().SerializeAsString()});
  }
  for (const proto::UnmovedMapOutput& u : response.unmoved()) {
    result.unmoved.push_back(
        absl::StrCat(u.app_id(), "/", u.shuffle_id(), "/", u.map_id(), ": ", u.error()));
  }
  result.bytes_moved = response.bytes_moved();
  result.seconds = response.seconds();
  return result;
}

}  // namespace shuffle::podmanager
