// ScrubShuffle, Drain, Decommission, GetMovedOutputs and Adopt: the control plane's maintenance
// calls.
#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle-server/adoption/adopter.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle-server/control/drainer.h"
#include "shuffle-server/handover/handover.h"
#include "shuffle-server/handover/moves.h"
#include "shuffle-server/handover/progress.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::control {

using core::Kv;

namespace {

absl::Status AddMoved(const handover::MovedOutput& moved, proto::MovedMapOutput* m) {
  m->set_app_id(moved.app_id);
  if (!m->mutable_status()->ParseFromString(moved.status.Serialize())) {
    return absl::InternalError("a moved output's MapStatus does not parse");
  }
  return absl::OkStatus();
}

void AddUnmoved(const handover::UnmovedOutput& unmoved, proto::UnmovedMapOutput* u) {
  u->set_app_id(unmoved.app_id);
  u->set_shuffle_id(unmoved.shuffle.value());
  u->set_map_id(unmoved.map.value());
  u->set_error(unmoved.error.ToString());
}

}  // namespace

absl::StatusOr<proto::ScrubShuffleResponse> ControlService::DoScrubShuffle(
    const proto::ScrubShuffleRequest& req) {
  SHUFFLE_RETURN_IF_ERROR(AuthorizeAppOrAdmin(
      req.credentials(), req.has_admin() ? &req.admin() : nullptr, "ScrubShuffle"));
  const auto start = std::chrono::steady_clock::now();
  SHUFFLE_ASSIGN_OR_RETURN(
      storage::ScrubReport report,
      engine_->Scrub({core::AppId(req.credentials().app_id()), core::ShuffleId(req.shuffle_id())}));
  proto::ScrubShuffleResponse response;
  response.set_maps(report.maps);
  response.set_expected_blocks(report.expected_blocks);
  response.set_expected_bytes(report.expected_bytes);
  response.set_blocks_checked(report.blocks_checked);
  response.set_bytes_checked(report.bytes_checked);
  response.set_corrupt_blocks(report.corrupt_blocks);
  for (const storage::CorruptBlock& corrupt : report.corrupt) {
    proto::CorruptBlock* c = response.add_corrupt();
    c->set_map_id(corrupt.block.map);
    c->set_attempt(corrupt.block.attempt);
    c->set_partition(corrupt.block.partition);
    c->set_seq(corrupt.block.seq);
    c->set_file(corrupt.path);
    c->set_offset(corrupt.offset);
    c->set_length(corrupt.block.length);
    c->set_error(corrupt.error);
  }
  response.set_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return response;
}

absl::StatusOr<proto::DrainResponse> ControlService::DoDrain(const proto::DrainRequest& req,
                                                             absl::Time rpc_deadline) {
  SHUFFLE_RETURN_IF_ERROR(AuthorizeAdmin(req.admin(), "Drain"));
  if (options_.drainer == nullptr) {
    return absl::FailedPreconditionError("Drain: this control service has no drainer");
  }
  const absl::Duration timeout = req.timeout_seconds() > 0 ? absl::Seconds(req.timeout_seconds())
                                                           : options_.drainer->default_timeout();
  const absl::Time deadline = std::min(absl::Now() + timeout, rpc_deadline);
  SHUFFLE_LOG(INFO) << "Drain requested over the control plane"
                    << Kv("timeout_s", absl::ToDoubleSeconds(timeout));
  SHUFFLE_ASSIGN_OR_RETURN(storage::DrainReport report, options_.drainer->Drain(deadline));
  proto::DrainResponse response;
  response.set_commits_waited(report.commits_waited);
  response.set_seconds(report.seconds);
  return response;
}

absl::StatusOr<proto::DecommissionResponse> ControlService::DoDecommission(
    const proto::DecommissionRequest& req, absl::Time rpc_deadline) {
  SHUFFLE_RETURN_IF_ERROR(AuthorizeAdmin(req.admin(), "Decommission"));
  if (options_.drainer == nullptr) {
    return absl::FailedPreconditionError("Decommission: this control service has no drainer");
  }
  if (req.peers().empty()) {
    return absl::InvalidArgumentError(
        "Decommission: no peers named; give the shuffle servers that may take this node's data");
  }
  const absl::Duration timeout = req.timeout_seconds() > 0 ? absl::Seconds(req.timeout_seconds())
                                                           : options_.drainer->default_timeout();
  const absl::Time deadline = std::min(absl::Now() + timeout, rpc_deadline);
  SHUFFLE_LOG(INFO) << "Decommission requested over the control plane"
                    << Kv("timeout_s", absl::ToDoubleSeconds(timeout))
                    << Kv("peers", req.peers_size());
  SHUFFLE_RETURN_IF_ERROR(options_.drainer->Drain(deadline).status());
  handover::HandOverOptions options{.peers = {},
                                    .deadline = deadline,
                                    .tokens = options_.token_authority,
                                    .operator_secret = req.admin().operator_secret(),
                                    .progress = options_.handover_progress,
                                    .peer_tls = options_.peer_tls};
  for (const proto::Peer& peer : req.peers()) {
    options.peers.push_back(handover::PeerServer{.data_address = peer.data_address(),
                                                 .control_address = peer.control_address()});
  }
  if (options_.moves != nullptr) {
    options_.moves->Start();
  }
  absl::StatusOr<handover::HandOverReport> handed = handover::HandOver(engine_, options);
  if (options_.moves != nullptr) {
    if (handed.ok()) {
      options_.moves->Record(*handed);
    } else {
      options_.moves->Abort();
    }
  }
  SHUFFLE_RETURN_IF_ERROR(handed.status());
  const handover::HandOverReport& report = *handed;
  proto::DecommissionResponse response;
  response.set_maps(report.maps);
  for (const handover::MovedOutput& moved : report.moved) {
    SHUFFLE_RETURN_IF_ERROR(core::Annotate(AddMoved(moved, response.add_moved()), "Decommission"));
  }
  for (const handover::UnmovedOutput& unmoved : report.unmoved) {
    AddUnmoved(unmoved, response.add_unmoved());
  }
  response.set_bytes_moved(report.bytes_moved);
  response.set_seconds(report.seconds);
  return response;
}

grpc::Status ControlService::Decommission(grpc::ServerContext* context,
                                          const proto::DecommissionRequest* request,
                                          proto::DecommissionResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<proto::DecommissionResponse> done =
      DoDecommission(*request, absl::FromChrono(context->deadline()));
  if (!done.ok()) {
    return ToGrpcStatus(done.status());
  }
  *response = *std::move(done);
  return grpc::Status::OK;
}

absl::StatusOr<proto::GetMovedOutputsResponse> ControlService::DoGetMovedOutputs(
    const proto::GetMovedOutputsRequest& req) const {
  if (req.has_admin()) {
    SHUFFLE_RETURN_IF_ERROR(AuthorizeAdmin(req.admin(), "GetMovedOutputs"));
  } else {
    SHUFFLE_RETURN_IF_ERROR(AuthorizeAppOrAdmin(req.credentials(), nullptr, "GetMovedOutputs"));
  }
  proto::GetMovedOutputsResponse response;
  if (options_.moves == nullptr) {
    return response;
  }
  const handover::MoveLedger::AppMoves moves = options_.moves->ForApp(req.credentials().app_id());
  switch (moves.state) {
    case handover::MoveLedger::State::kNone:
      response.set_state(proto::GetMovedOutputsResponse::NONE);
      break;
    case handover::MoveLedger::State::kRunning:
      response.set_state(proto::GetMovedOutputsResponse::RUNNING);
      break;
    case handover::MoveLedger::State::kDone:
      response.set_state(proto::GetMovedOutputsResponse::DONE);
      break;
  }
  for (const handover::MovedOutput& moved : moves.moved) {
    SHUFFLE_RETURN_IF_ERROR(
        core::Annotate(AddMoved(moved, response.add_moved()), "GetMovedOutputs"));
  }
  for (const handover::UnmovedOutput& unmoved : moves.unmoved) {
    AddUnmoved(unmoved, response.add_unmoved());
  }
  return response;
}

grpc::Status ControlService::GetMovedOutputs(grpc::ServerContext* /*context*/,
                                             const proto::GetMovedOutputsRequest* request,
                                             proto::GetMovedOutputsResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<proto::GetMovedOutputsResponse> moves = DoGetMovedOutputs(*request);
  if (!moves.ok()) {
    return ToGrpcStatus(moves.status());
  }
  *response = *std::move(moves);
  return grpc::Status::OK;
}

absl::StatusOr<proto::AdoptResponse> ControlService::DoAdopt(const proto::AdoptRequest& req) {
  if (req.has_admin()) {
    SHUFFLE_RETURN_IF_ERROR(AuthorizeAdmin(req.admin(), "Adopt"));
  } else {
    SHUFFLE_RETURN_IF_ERROR(AuthorizeAppOrAdmin(req.credentials(), nullptr, "Adopt"));
  }
  if (options_.adopter == nullptr) {
    return absl::FailedPreconditionError(
        "Adopt: this server has no shared volume to adopt lost nodes' data from (--adopt-root)");
  }
  SHUFFLE_LOG(INFO) << "Adopt requested over the control plane" << Kv("node", req.node())
                    << Kv("by_app", req.has_admin() ? "" : req.credentials().app_id());
  SHUFFLE_ASSIGN_OR_RETURN(adoption::Adoption adoption, options_.adopter->Adopt(req.node()));
  proto::AdoptResponse response;
  response.set_node(adoption.node);
  response.set_data_address(adoption.data_address);
  response.set_control_address(adoption.control_address);
  response.set_adopted_by(adoption.adopted_by);
  response.set_already_adopted(adoption.already_adopted);
  response.set_commits_recovered(adoption.commits_recovered);
  response.set_seconds(adoption.seconds);
  return response;
}

grpc::Status ControlService::Adopt(grpc::ServerContext* /*context*/,
                                   const proto::AdoptRequest* request,
                                   proto::AdoptResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<proto::AdoptResponse> adopted = DoAdopt(*request);
  if (!adopted.ok()) {
    return ToGrpcStatus(adopted.status());
  }
  *response = *std::move(adopted);
  return grpc::Status::OK;
}

grpc::Status ControlService::ScrubShuffle(grpc::ServerContext* /*context*/,
                                          const proto::ScrubShuffleRequest* request,
                                          proto::ScrubShuffleResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<proto::ScrubShuffleResponse> scrubbed = DoScrubShuffle(*request);
  if (!scrubbed.ok()) {
    return ToGrpcStatus(scrubbed.status());
  }
  *response = *std::move(scrubbed);
  return grpc::Status::OK;
}

grpc::Status ControlService::Drain(grpc::ServerContext* context, const proto::DrainRequest* request,
                                   proto::DrainResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  const absl::Time rpc_deadline = absl::FromChrono(context->deadline());
  absl::StatusOr<proto::DrainResponse> drained = DoDrain(*request, rpc_deadline);
  if (!drained.ok()) {
    return ToGrpcStatus(drained.status());
  }
  *response = *std::move(drained);
  return grpc::Status::OK;
}

}  // namespace shuffle::control
