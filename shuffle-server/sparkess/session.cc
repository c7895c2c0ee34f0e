#include "shuffle-server/sparkess/session.h"

#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle-server/dataplane/send_file.h"
#include "shuffle-server/sparkess/checksums.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::sparkess {
namespace {

using core::Kv;

// "<prefix>a_b_c": the `n` decimal fields after `prefix`; nullopt for any other shape.
std::optional<std::vector<int64_t>> Fields(std::string_view id, std::string_view prefix, int n) {
  if (id.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  id.remove_prefix(prefix.size());
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    const size_t end = last ? id.size() : id.find('_');
    if (end == std::string_view::npos || end == 0) {
      return std::nullopt;
    }
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(id.data(), id.data() + end, v);
    if (ec != std::errc() || ptr != id.data() + end || v < 0) {
      return std::nullopt;
    }
    out.push_back(v);
    id.remove_prefix(last ? end : end + 1);
  }
  return out;
}

bool FitsInt(int64_t v) { return v <= INT32_MAX; }

std::string StatusText(const absl::Status& s) { return std::string(s.message()); }

Reply HeadOnly(std::string head, bool close = false) {
  Reply r;
  r.head = std::move(head);
  r.close = close;
  return r;
}

}  // namespace

Session::Session(const Service* service) : service_(service) {}

absl::Status Session::CheckApp(const std::string& app_id) const {
  if (app_.has_value() && *app_ != app_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("Client for ", *app_, " not authorized for application ", app_id, "."));
  }
  return absl::OkStatus();
}

absl::StatusOr<Registration> Session::FindExecutor(const std::string& app_id,
                                                   const std::string& exec_id) {
  SHUFFLE_RETURN_IF_ERROR(CheckApp(app_id));
  std::optional<Registration> r = service_->registry->Find(app_id, exec_id);
  if (!r.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("Executor is not registered (appId=", app_id, ", execId=", exec_id, ")"));
  }
  return *std::move(r);
}

void Session::Handle(const Request& request, std::vector<Reply>* out) {
  SparkEssCounters& c = *service_->counters;
  const bool authenticating = service_->secrets != nullptr && !app_.has_value();
  switch (request.type) {
    case MessageType::kRpcRequest: {
      c.Add(c.rpcs);
      if (authenticating) {
        HandleAuth(request, out);
        return;
      }
      absl::StatusOr<std::string> reply = HandleRpc(request.body, request.request_id, out);
      if (reply.ok()) {
        out->push_back(HeadOnly(EncodeRpcResponse(request.request_id, *reply)));
      } else {
        c.Add(c.rpc_failures);
        out->push_back(HeadOnly(EncodeRpcFailure(request.request_id, StatusText(reply.status()))));
      }
      return;
    }
    case MessageType::kChunkFetchRequest:
    case MessageType::kStreamRequest: {
      int64_t stream = request.stream_id;
      int32_t chunk = request.chunk_index;
      const bool is_stream = request.type == MessageType::kStreamRequest;
      absl::StatusOr<FileSegment> segment = absl::UnauthenticatedError(
          "this shuffle service requires authentication (spark.authenticate)");
      if (!authenticating) {
        std::optional<std::vector<int64_t>> ids;
        if (is_stream) {
          ids = Fields(request.stream_name, "", 2);
        }
        if (is_stream && (!ids.has_value() || !FitsInt((*ids)[1]))) {
          segment =
              absl::InvalidArgumentError(absl::StrCat("Invalid stream id: ", request.stream_name));
        } else {
          if (is_stream) {
            stream = (*ids)[0];
            chunk = static_cast<int32_t>((*ids)[1]);
          }
          segment = NextChunk(stream, chunk);
        }
      }
      if (!segment.ok()) {
        c.Add(c.chunk_failures);
        const std::string error = StatusText(segment.status());
        out->push_back(HeadOnly(is_stream ? EncodeStreamFailure(request.stream_name, error)
                                          : EncodeChunkFetchFailure(stream, chunk, error),
                                authenticating));
        return;
      }
      c.Add(c.chunks_served);
      c.Add(c.bytes_served, segment->length);
      Reply ok;
      ok.head = is_stream ? EncodeStreamResponse(request.stream_name, segment->length)
                          : EncodeChunkFetchSuccessHead(stream, chunk, segment->length);
      ok.body = *std::move(segment);
      out->push_back(std::move(ok));
      return;
    }
    case MessageType::kOneWayMessage:
      return;  // Spark's shuffle service ignores them too
    case MessageType::kMergedBlockMetaRequest:
      c.Add(c.rpc_failures);
      out->push_back(HeadOnly(
          EncodeRpcFailure(request.request_id,
                           "push-based shuffle (merged blocks) is not supported by this service")));
      return;
    case MessageType::kUploadStream:
      // Its body follows the frame; the connection cannot skip it safely, so it closes.
      c.Add(c.rpc_failures);
      out->push_back(
          HeadOnly(EncodeRpcFailure(request.request_id,
                                    "block uploads and pushes are not supported by this service"),
                   true));
      return;
    default:
      HandleBadFrame({}, absl::InvalidArgumentError("unexpected message"), out);
  }
}

void Session::HandleBadFrame(std::string_view head, const absl::Status& error,
                             std::vector<Reply>* out) {
  service_->counters->Add(service_->counters->protocol_errors);
  std::optional<int64_t> id = PeekRpcRequestId(head);
  out->push_back(HeadOnly(id.has_value() ? EncodeRpcFailure(*id, StatusText(error)) : "", true));
}

void Session::HandleAuth(const Request& request, std::vector<Reply>* out) {
  SparkEssCounters& c = *service_->counters;
  absl::StatusOr<std::string> reply;
  if (handshake_ == nullptr) {
    absl::StatusOr<std::unique_ptr<ServerHandshake>> started =
        StartHandshake(request.body, *service_->secrets, service_->aes_engine_version);
    if (started.ok()) {
      handshake_ = *std::move(started);
    } else {
      reply = started.status();
    }
  }
  if (handshake_ != nullptr) {
    reply = handshake_->Step(request.body);
  }
  if (!reply.ok()) {
    c.Add(c.auth_failures);
    SHUFFLE_LOG(WARNING) << "Spark client authentication failed"
                         << Kv("error", reply.status().ToString());
    out->push_back(
        HeadOnly(EncodeRpcFailure(request.request_id, StatusText(reply.status())), true));
    return;
  }
  out->push_back(HeadOnly(EncodeRpcResponse(request.request_id, *reply)));
  if (handshake_->done()) {
    c.Add(c.auth_successes);
    app_ = handshake_->app_id();
    cipher_ = handshake_->TakeCipher();
    handshake_.reset();
  }
}

absl::StatusOr<std::string> Session::HandleRpc(const std::string& body, int64_t /*request_id*/,
                                               std::vector<Reply>* /*out*/) {
  SHUFFLE_ASSIGN_OR_RETURN(BlockMessage message, DecodeBlockMessage(body));
  if (auto* m = std::get_if<RegisterExecutor>(&message)) {
    return Register(*m);
  }
  if (auto* m = std::get_if<FetchShuffleBlocks>(&message)) {
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < m->map_ids.size(); ++i) {
      const std::vector<int32_t>& reduces = m->reduce_ids[i];
      if (m->batch_fetch) {
        chunks.push_back({m->shuffle_id, m->map_ids[i], reduces[0], reduces[1]});
        continue;
      }
      for (int32_t r : reduces) {
        chunks.push_back({m->shuffle_id, m->map_ids[i], r, r + 1});
      }
    }
    return Open(m->app_id, m->exec_id, std::move(chunks));
  }
  if (auto* m = std::get_if<OpenBlocks>(&message)) {
    return OpenBlockIds(*m);
  }
  if (auto* m = std::get_if<RemoveBlocks>(&message)) {
    return Remove(*m);
  }
  if (auto* m = std::get_if<GetLocalDirsForExecutors>(&message)) {
    return LocalDirs(*m);
  }
  if (auto* m = std::get_if<DiagnoseCorruption>(&message)) {
    return Diagnose(*m);
  }
  const auto& unsupported = std::get<UnsupportedMessage>(message);
  SHUFFLE_RETURN_IF_ERROR(CheckApp(unsupported.app_id));
  return absl::UnimplementedError(absl::StrCat(
      "Unexpected message: block transfer message type ", static_cast<int>(unsupported.type),
      " (uploads, push-based shuffle and Mesos messages are not supported)"));
}

absl::StatusOr<std::string> Session::Register(const RegisterExecutor& m) {
  SparkEssCounters& c = *service_->counters;
  SHUFFLE_RETURN_IF_ERROR(CheckApp(m.app_id));
  absl::Status registered = service_->registry->Register(m.app_id, m.exec_id, m.info);
  if (!registered.ok()) {
    c.Add(c.registrations_refused);
    SHUFFLE_LOG(WARNING) << "Spark executor registration refused" << Kv("app", m.app_id)
                         << Kv("executor", m.exec_id) << Kv("error", registered.ToString());
    return registered;
  }
  c.Add(c.registrations);
  SHUFFLE_LOG(INFO) << "Spark executor registered" << Kv("app", m.app_id)
                    << Kv("executor", m.exec_id) << Kv("local_dirs", m.info.local_dirs.size())
                    << Kv("shuffle_manager", m.info.shuffle_manager);
  return std::string();
}

absl::StatusOr<std::string> Session::Open(const std::string& app_id, const std::string& exec_id,
                                          std::vector<Chunk> chunks) {
  SHUFFLE_ASSIGN_OR_RETURN(Registration r, FindExecutor(app_id, exec_id));
  if (chunks.empty()) {
    return absl::InvalidArgumentError("a fetch of no blocks");
  }
  AdviseWillNeed(r.resolved, chunks);
  const int64_t stream_id = service_->next_stream_id->fetch_add(1);
  const auto count = static_cast<int32_t>(chunks.size());
  streams_[stream_id] =
      Stream{.app_id = app_id, .resolved = std::move(r.resolved), .chunks = std::move(chunks)};
  service_->counters->Add(service_->counters->streams_opened);
  return EncodeStreamHandle(stream_id, count);
}

void Session::AdviseWillNeed(const ExecutorShuffleInfo& resolved,
                             const std::vector<Chunk>& chunks) {
  // Each run of chunks of one map lies in one range of its data file (Spark's readers ask for
  // a map's reduce partitions in order): ask the kernel to read all of it now, so a cold fetch
  // keeps the disk busy with the whole request instead of one readahead window at a time.
  // Best effort: errors surface when the chunk itself is fetched.
  size_t i = 0;
  while (i < chunks.size()) {
    size_t j = i;
    int32_t end = chunks[i].end;
    while (j + 1 < chunks.size() && chunks[j + 1].shuffle_id == chunks[i].shuffle_id &&
           chunks[j + 1].map_id == chunks[i].map_id && chunks[j + 1].start >= chunks[j].end) {
      end = chunks[++j].end;
    }
    if (chunks[i].shuffle_id >= 0) {
      absl::StatusOr<FileSegment> range = service_->files->ShuffleBlocks(
          resolved, chunks[i].shuffle_id, chunks[i].map_id, chunks[i].start, end);
      if (range.ok() && range->length > 0) {
        dataplane::AdviseWillNeed(
            {.fd = range->file->fd(), .offset = range->offset, .length = range->length});
      }
    }
    i = j + 1;
  }
}

absl::StatusOr<std::string> Session::OpenBlockIds(const OpenBlocks& m) {
  std::vector<Chunk> chunks;
  for (const std::string& id : m.block_ids) {
    if (auto f = Fields(id, "shuffle_", 3); f.has_value() && FitsInt((*f)[0]) && FitsInt((*f)[2])) {
      chunks.push_back({static_cast<int32_t>((*f)[0]), (*f)[1], static_cast<int32_t>((*f)[2]),
                        static_cast<int32_t>((*f)[2]) + 1});
    } else if (auto g = Fields(id, "rdd_", 2); g.has_value() && FitsInt((*g)[1])) {
      chunks.push_back({-1, (*g)[0], static_cast<int32_t>((*g)[1]), 0});
    } else {
      return absl::InvalidArgumentError(absl::StrCat("Unexpected block id format: ", id));
    }
  }
  return Open(m.app_id, m.exec_id, std::move(chunks));
}

absl::StatusOr<FileSegment> Session::Resolve(const ExecutorShuffleInfo& resolved,
                                             const Chunk& chunk) {
  if (chunk.shuffle_id < 0) {
    return service_->files->RddBlock(resolved, static_cast<int32_t>(chunk.map_id), chunk.start);
  }
  return service_->files->ShuffleBlocks(resolved, chunk.shuffle_id, chunk.map_id, chunk.start,
                                        chunk.end);
}

absl::StatusOr<FileSegment> Session::NextChunk(int64_t stream_id, int32_t chunk_index) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Requested chunk not available since streamId ", stream_id, " is closed"));
  }
  Stream& stream = it->second;
  if (static_cast<size_t>(chunk_index) != stream.next) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Received out-of-order chunk index ", chunk_index, " (expected ", stream.next, ")"));
  }
  const Chunk chunk = stream.chunks[stream.next++];
  std::optional<Chunk> following;
  if (stream.next < stream.chunks.size()) {
    following = stream.chunks[stream.next];
  }
  const ExecutorShuffleInfo resolved = stream.resolved;
  if (!following.has_value()) {
    streams_.erase(it);
  }
  absl::StatusOr<FileSegment> segment = Resolve(resolved, chunk);
  if (!segment.ok()) {
    return segment;
  }
  if (chunk.shuffle_id >= 0) {
    service_->counters->Add(service_->counters->blocks_served,
                            static_cast<uint64_t>(chunk.end - chunk.start));
  }
  return segment;
}

absl::StatusOr<std::string> Session::Remove(const RemoveBlocks& m) {
  SHUFFLE_ASSIGN_OR_RETURN(Registration r, FindExecutor(m.app_id, m.exec_id));
  int32_t removed = 0;
  for (const std::string& id : m.block_ids) {
    if (!IsServableFileName(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("RemoveBlocks: '", id, "' is not a Spark block file name"));
    }
    if (service_->files->Remove(BlockFilePath(r.resolved, id)).ok()) {
      ++removed;
    }
  }
  service_->counters->Add(service_->counters->blocks_removed, static_cast<uint64_t>(removed));
  return EncodeBlocksRemoved(removed);
}

absl::StatusOr<std::string> Session::LocalDirs(const GetLocalDirsForExecutors& m) {
  std::vector<std::pair<std::string, std::vector<std::string>>> dirs;
  for (const std::string& exec : m.exec_ids) {
    SHUFFLE_ASSIGN_OR_RETURN(Registration r, FindExecutor(m.app_id, exec));
    dirs.emplace_back(exec, std::move(r.info.local_dirs));
  }
  return EncodeLocalDirsForExecutors(dirs);
}

absl::StatusOr<std::string> Session::Diagnose(const DiagnoseCorruption& m) {
  service_->counters->Add(service_->counters->corruption_diagnoses);
  SHUFFLE_ASSIGN_OR_RETURN(Registration r, FindExecutor(m.app_id, m.exec_id));
  std::optional<SparkChecksum> checksum = SparkChecksum::Create(m.algorithm);
  if (!checksum.has_value()) {
    return EncodeCorruptionCause(CorruptionCause::kUnsupportedChecksumAlgorithm);
  }
  const std::string name =
      absl::StrCat("shuffle_", m.shuffle_id, "_", m.map_id, "_0.checksum.", m.algorithm);
  CorruptionCause cause = CorruptionCause::kUnknownIssue;
  absl::StatusOr<std::shared_ptr<const OpenFile>> file =
      service_->files->OpenFileAt(BlockFilePath(r.resolved, name));
  absl::StatusOr<int64_t> by_writer =
      file.ok() && m.reduce_id >= 0 ? ReadBigEndianLong(**file, static_cast<uint64_t>(m.reduce_id))
                                    : absl::StatusOr<int64_t>(absl::NotFoundError(name));
  absl::StatusOr<FileSegment> data = service_->files->ShuffleBlocks(
      r.resolved, m.shuffle_id, m.map_id, m.reduce_id, m.reduce_id + 1);
  if (by_writer.ok() && data.ok()) {
    absl::StatusOr<int64_t> recomputed = ChecksumOf(*checksum, *data);
    if (recomputed.ok()) {
      cause = *recomputed != *by_writer  ? CorruptionCause::kDiskIssue
              : *by_writer != m.checksum ? CorruptionCause::kNetworkIssue
                                         : CorruptionCause::kChecksumVerifyPass;
    }
  }
  SHUFFLE_LOG(INFO) << "Spark corruption diagnosis" << Kv("app", m.app_id)
                    << Kv("shuffle", m.shuffle_id) << Kv("map", m.map_id)
                    << Kv("reduce", m.reduce_id) << Kv("cause", static_cast<int>(cause));
  return EncodeCorruptionCause(cause);
}

}  // namespace shuffle::sparkess
