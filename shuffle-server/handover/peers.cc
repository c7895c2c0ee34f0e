#include "shuffle-server/handover/peers.h"

#include <algorithm>
#include <numeric>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::handover {

using core::Kv;

// How long one peer may take to report its free space.
constexpr absl::Duration kStatusTimeout = absl::Seconds(5);

absl::StatusOr<uint64_t> PeerFreeBytes(const PeerServer& peer, const std::string& operator_secret,
                                       const tls::ClientFiles& tls, absl::Time deadline) {
  SHUFFLE_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                           tls::NewGrpcChannel(peer.control_address, tls));
  auto stub = proto::ShuffleControl::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(std::min(deadline, absl::Now() + kStatusTimeout)));
  proto::GetStatusRequest request;
  request.mutable_admin()->set_operator_secret(operator_secret);
  proto::GetStatusResponse response;
  const grpc::Status st = stub->GetStatus(&context, request, &response);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("peer shuffle server ", peer.control_address,
                                     " did not report its free space: ", st.error_message()));
  }
  if (response.draining()) {
    return absl::FailedPreconditionError(
        absl::StrCat("peer shuffle server ", peer.control_address, " is draining itself"));
  }
  uint64_t free_bytes = 0;
  for (const proto::DirectoryStatus& dir : response.directories()) {
    free_bytes += dir.free_bytes();
  }
  return free_bytes;
}

absl::StatusOr<PeerChoice> PeerChoice::Ask(const std::vector<PeerServer>& peers,
                                           const std::string& operator_secret,
                                           const tls::ClientFiles& tls, absl::Time deadline) {
  PeerChoice choice;
  for (const PeerServer& peer : peers) {
    absl::StatusOr<uint64_t> free_bytes = PeerFreeBytes(peer, operator_secret, tls, deadline);
    if (!free_bytes.ok()) {
      SHUFFLE_LOG(WARNING) << "hand-over: leaving a peer out" << Kv("peer", peer.data_address)
                           << Kv("error", free_bytes.status().ToString());
      continue;
    }
    choice.peers_.push_back(Entry{.server = peer, .free_bytes = *free_bytes});
  }
  if (choice.peers_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "hand-over: none of the ", peers.size(),
        " peer shuffle servers reported its free space; name reachable, non-draining peers"));
  }
  return choice;
}

std::vector<size_t> PeerChoice::Ranked() const {
  std::vector<size_t> order(peers_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [this](size_t a, size_t b) {
    return peers_[a].free_bytes > peers_[b].free_bytes;
  });
  return order;
}

void PeerChoice::Charge(size_t i, uint64_t bytes) {
  peers_[i].free_bytes -= std::min(bytes, peers_[i].free_bytes);
}

}  // namespace shuffle::handover
