#include "shuffle-server/dataplane/handlers.h"

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shuffle-server/dataplane/fetch_stream.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle/core/ids.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::dataplane {
namespace {

using core::FrameType;

template <typename Message>
absl::Status ParseHeader(const core::Frame& frame, const std::string& peer, Message* message) {
  if (!message->ParseFromString(frame.header)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed ", message->GetTypeName(), " header (", frame.header.size(),
        " bytes) in request ", frame.request_id, " from ", peer,
        ": the client speaks a different protocol version; use a matching client library"));
  }
  return absl::OkStatus();
}

// The namespace of the application the credentials prove (the token's); "default" on a server
// without secrets. REQUIRES: the credentials were authorized.
std::string NamespaceOf(const security::TokenAuthority* authority,
                        const proto::Credentials& credentials) {
  if (authority != nullptr) {
    absl::StatusOr<std::string> ns = authority->Verify(credentials.app_id(), credentials.token());
    if (ns.ok() && !ns->empty()) {
      return *std::move(ns);
    }
  }
  return "default";
}

// Checks the credentials and names the shuffle they address.
absl::StatusOr<storage::ShuffleKey> KeyFor(const security::TokenAuthority* authority,
                                           const proto::Credentials& credentials,
                                           uint32_t shuffle_id, std::string_view what) {
  if (credentials.app_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        core::ToAbsl(what), ": the request carries no app_id; set Credentials.app_id"));
  }
  SHUFFLE_RETURN_IF_ERROR(core::Annotate(Authorize(authority, credentials), what));
  return storage::ShuffleKey{.app = core::AppId(credentials.app_id()),
                             .shuffle = core::ShuffleId(shuffle_id)};
}

}  // namespace

absl::Status Authorize(const security::TokenAuthority* authority,
                       const proto::Credentials& credentials) {
  if (authority == nullptr) {
    return absl::OkStatus();
  }
  return authority->Verify(credentials.app_id(), credentials.token()).status();
}

std::string EncodeErrorFrame(uint64_t request_id, const absl::Status& status) {
  proto::Error error;
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_message(std::string(status.message()));
  return core::EncodeFrame(FrameType::kError, request_id, error.SerializeAsString(),
                           /*payload=*/{});
}

RequestHandler::RequestHandler(storage::StorageEngine* engine, const DataPlaneOptions& options)
    : engine_(engine),
      node_name_(options.node_name),
      advertise_address_(options.advertise_address),
      fetch_frame_bytes_(options.fetch_frame_bytes == 0 ? 1 : options.fetch_frame_bytes),
      token_authority_(options.token_authority) {}

absl::Status RequestHandler::Handle(core::Frame& frame, ResponseWriter& out) const {
  const auto start = std::chrono::steady_clock::now();
  auto timed = [&](core::LatencyHistogram& histogram, absl::Status status) {
    histogram.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return status;
  };
  switch (frame.type) {
    case FrameType::kPushRequest:
      return timed(latency_.push, HandlePush(frame, out));
    case FrameType::kCommitRequest:
      return timed(latency_.commit, HandleCommit(frame, out));
    case FrameType::kFetchRequest:
      return timed(latency_.fetch, HandleFetch(frame, out));
    case FrameType::kLookupRequest:
      return timed(latency_.lookup, HandleLookup(frame, out));
    default:
      return absl::InternalError(absl::StrCat("no handler for frame type ",
                                              core::ToAbsl(core::FrameTypeName(frame.type))));
  }
}

absl::Status RequestHandler::HandlePush(core::Frame& frame, ResponseWriter& out) const {
  proto::PushRequest req;
  SHUFFLE_RETURN_IF_ERROR(ParseHeader(frame, out.peer(), &req));
  const std::string what =
      absl::StrCat("push to shuffle ", req.credentials().app_id(), "/", req.shuffle_id(), " map ",
                   req.map_id(), " attempt ", req.attempt(), " from ", out.peer());
  SHUFFLE_ASSIGN_OR_RETURN(storage::ShuffleKey key,
                           KeyFor(token_authority_, req.credentials(), req.shuffle_id(), what));
  uint64_t total = 0;
  for (const proto::BlockRef& ref : req.blocks()) {
    total += ref.length();
  }
  if (total != frame.payload.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": its ", req.blocks_size(), " block lengths add up to ", total,
        " bytes but the payload has ", frame.payload.size(), "; the client built a bad request"));
  }
  // The payload moves to the heap once; the engine keeps large blocks as views into it.
  auto shared_payload = std::make_shared<const std::string>(std::move(frame.payload));
  frame.payload = std::string();
  std::vector<storage::PushedBlock> blocks;
  blocks.reserve(req.blocks_size());
  std::string_view payload = *shared_payload;
  size_t offset = 0;
  for (const proto::BlockRef& ref : req.blocks()) {
    blocks.push_back(storage::PushedBlock{.partition = core::PartitionId(ref.partition_id()),
                                          .bytes = payload.substr(offset, ref.length())});
    offset += ref.length();
  }
  if (req.num_partitions() != 0) {
    // Idempotent; a shuffle this server already knows costs one lookup under the engine's lock.
    SHUFFLE_RETURN_IF_ERROR(core::Annotate(
        engine_->RegisterShuffle(key, NamespaceOf(token_authority_, req.credentials()),
                                 req.num_partitions()),
        what));
  }
  SHUFFLE_RETURN_IF_ERROR(
      core::Annotate(engine_->Push(key, core::MapId(req.map_id()), core::AttemptId(req.attempt()),
                                   blocks, shared_payload),
                     what));
  proto::PushResponse resp;
  resp.set_accepted_bytes(total);
  return out.Send(OutFrame(core::EncodeFrame(FrameType::kPushResponse, frame.request_id,
                                             resp.SerializeAsString(), /*payload=*/{})));
}

absl::Status RequestHandler::HandleCommit(const core::Frame& frame, ResponseWriter& out) const {
  proto::CommitRequest req;
  SHUFFLE_RETURN_IF_ERROR(ParseHeader(frame, out.peer(), &req));
  const std::string what =
      absl::StrCat("commit of shuffle ", req.credentials().app_id(), "/", req.shuffle_id(), " map ",
                   req.map_id(), " attempt ", req.attempt(), " from ", out.peer());
  SHUFFLE_ASSIGN_OR_RETURN(storage::ShuffleKey key,
                           KeyFor(token_authority_, req.credentials(), req.shuffle_id(), what));
  if (req.register_shuffle() && req.num_partitions() != 0) {
    SHUFFLE_RETURN_IF_ERROR(core::Annotate(
        engine_->RegisterShuffle(key, NamespaceOf(token_authority_, req.credentials()),
                                 req.num_partitions()),
        what));
  }
  storage::CommitRequest commit{.map = core::MapId(req.map_id()),
                                .attempt = core::AttemptId(req.attempt()),
                                .num_partitions = req.num_partitions(),
                                .expected_blocks = req.expected_blocks(),
                                .expected_bytes = req.expected_bytes()};
  absl::StatusOr<storage::CommitResult> result = engine_->Commit(key, commit);
  if (!result.ok()) {
    return core::Annotate(result.status(), what);
  }
  const storage::CommitRecord& winner = result->winner;
  const uint32_t num_partitions =
      winner.num_partitions != 0 ? winner.num_partitions : req.num_partitions();
  proto::CommitResponse resp;
  resp.set_won(result->won);
  proto::MapStatus* status = resp.mutable_status();
  status->set_node(node_name_);
  status->set_address(advertise_address_);
  status->set_control_address(control_address_);
  status->set_shuffle_id(req.shuffle_id());
  status->set_map_id(req.map_id());
  status->set_attempt(winner.attempt);
  status->mutable_partition_bytes()->Resize(static_cast<int>(num_partitions), 0);
  status->mutable_partition_blocks()->Resize(static_cast<int>(num_partitions), 0);
  for (const storage::PartitionTotal& total : winner.partitions) {
    if (total.partition >= num_partitions) {
      return absl::InternalError(absl::StrCat(what, ": the commit record names partition ",
                                              total.partition, " of only ", num_partitions,
                                              "; the server's index is inconsistent"));
    }
    status->set_partition_bytes(static_cast<int>(total.partition), total.bytes);
    status->set_partition_blocks(static_cast<int>(total.partition), total.blocks);
  }
  return out.Send(OutFrame(core::EncodeFrame(FrameType::kCommitResponse, frame.request_id,
                                             resp.SerializeAsString(), /*payload=*/{})));
}

absl::Status RequestHandler::HandleFetch(const core::Frame& frame, ResponseWriter& out) const {
  proto::FetchRequest req;
  SHUFFLE_RETURN_IF_ERROR(ParseHeader(frame, out.peer(), &req));
  const std::string what = absl::StrCat(
      "fetch of shuffle ", req.credentials().app_id(), "/", req.shuffle_id(), " partitions [",
      req.partition_start(), ", ", req.partition_end(), ") maps [", req.map_start(), ", ",
      req.map_end() == 0 ? std::string("all") : absl::StrCat(req.map_end()), ") for ", out.peer());
  SHUFFLE_ASSIGN_OR_RETURN(storage::ShuffleKey key,
                           KeyFor(token_authority_, req.credentials(), req.shuffle_id(), what));
  storage::ReadRequest read{.partition_begin = core::PartitionId(req.partition_start()),
                            .partition_end = core::PartitionId(req.partition_end()),
                            .map_begin = core::MapId(req.map_start()),
                            .map_end = core::MapId(req.map_end() == 0 ? UINT32_MAX : req.map_end()),
                            .maps = {}};
  read.maps.reserve(req.map_ids_size());
  for (uint32_t map : req.map_ids()) {
    read.maps.push_back(core::MapId(map));
  }
  absl::StatusOr<storage::FetchPlan> plan = engine_->PlanFetch(key, read);
  if (!plan.ok()) {
    return core::Annotate(plan.status(), what);
  }
  return core::Annotate(StreamFetch(frame.request_id, fetch_frame_bytes_, *plan, out), what);
}

absl::Status RequestHandler::HandleLookup(const core::Frame& frame, ResponseWriter& out) const {
  proto::LookupRequest req;
  SHUFFLE_RETURN_IF_ERROR(ParseHeader(frame, out.peer(), &req));
  const std::string what =
      absl::StrCat("lookup of ", req.maps_size(), " maps of shuffle ", req.credentials().app_id(),
                   "/", req.shuffle_id(), " partitions [", req.partition_start(), ", ",
                   req.partition_end(), ") for ", out.peer());
  SHUFFLE_ASSIGN_OR_RETURN(storage::ShuffleKey key,
                           KeyFor(token_authority_, req.credentials(), req.shuffle_id(), what));
  std::vector<core::MapId> maps;
  maps.reserve(req.maps_size());
  for (const proto::MapAttempt& m : req.maps()) {
    maps.push_back(core::MapId(m.map_id()));
  }
  absl::StatusOr<std::vector<storage::MapHolding>> holdings = engine_->Lookup(
      key, core::PartitionId(req.partition_start()), core::PartitionId(req.partition_end()), maps);
  if (!holdings.ok()) {
    return core::Annotate(holdings.status(), what);
  }
  proto::LookupResponse resp;
  resp.mutable_maps()->Reserve(static_cast<int>(holdings->size()));
  for (const storage::MapHolding& h : *holdings) {
    proto::MapHolding* m = resp.add_maps();
    m->set_map_id(h.map.value());
    m->set_committed(h.committed);
    m->set_attempt(h.attempt.value());
    m->set_blocks(h.blocks);
    m->set_bytes(h.bytes);
    m->set_attempt_blocks(h.attempt_blocks);
  }
  return out.Send(OutFrame(core::EncodeFrame(FrameType::kLookupResponse, frame.request_id,
                                             resp.SerializeAsString(), /*payload=*/{})));
}

}  // namespace shuffle::dataplane
