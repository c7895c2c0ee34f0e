#include "shuffle/client/map_output_writer.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shuffle-client/frame_connection.h"
#include "shuffle-client/record_format.h"
#include "shuffle/client/discovery.h"
#include "shuffle/core/block.h"
#include "shuffle/core/compression.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::client {
namespace {

constexpr int kMaxPushBlocks = 2048;  // blocks per push request (its header lists each)
constexpr char kFailedServerPayload[] = "type.shuffle/writer.failed_server";

// `status` with the address of the server it came from, for WriterFailedServer().
absl::Status FromServer(absl::Status status, const std::string& address) {
  if (!status.ok() && !status.GetPayload(kFailedServerPayload).has_value()) {
    status.SetPayload(kFailedServerPayload, absl::Cord(address));
  }
  return status;
}

// One server the writer pushes to: the primary, and the replica when there is one.
struct WriteTarget {
  std::unique_ptr<FrameConnection> conn;
  uint32_t pushes_in_flight = 0;
  // Another attempt of this map committed there first (a retry of a map whose first executor
  // died after committing): nothing more is pushed there, and its commit answers the winner.
  bool superseded = false;
};

}  // namespace

struct MapOutputWriter::Impl {
  ClientOptions options;
  ShuffleHandle shuffle;
  core::MapId map{0};
  core::AttemptId attempt{0};
  std::vector<WriteTarget> targets;              // [0] the primary, [1] the replica if any
  std::unique_ptr<core::Compressor> compressor;  // null when compression is off
  std::vector<std::string> buffers;              // per partition, raw records
  std::vector<uint32_t> records;                 // per partition, records in the buffer
  uint64_t buffered = 0;
  std::string batch;  // encoded blocks of the next push
  proto::PushRequest batch_header;
  uint64_t pushed_blocks = 0;
  uint64_t pushed_bytes = 0;
  uint64_t bytes_written = 0;
  bool committed = false;
  absl::Status failure;  // sticky: a writer that failed once stays failed

  std::string What() const {
    return absl::StrCat("shuffle ", shuffle.app_id, "/", shuffle.shuffle.value(), " map ",
                        map.value(), " attempt ", attempt.value());
  }

  // Every server already serves another attempt: nothing is left to push.
  bool superseded() const {
    return std::all_of(targets.begin(), targets.end(),
                       [](const WriteTarget& t) { return t.superseded; });
  }

  void FillCredentials(proto::Credentials* c) const {
    c->set_app_id(shuffle.app_id);
    c->set_token(shuffle.token);
  }

  static absl::Status AwaitPushResponse(WriteTarget& target) {
    return FromServer(ReceivePushResponse(target), target.conn->address());
  }

  static absl::Status ReceivePushResponse(WriteTarget& target) {
    FrameConnection& conn = *target.conn;
    SHUFFLE_ASSIGN_OR_RETURN(core::Frame frame, conn.Receive());
    if (frame.type == core::FrameType::kError) {
      absl::Status st = ErrorFrameToStatus(frame, conn.address());
      if (!absl::IsAlreadyExists(st)) {
        return st;
      }
      target.superseded = true;
      --target.pushes_in_flight;
      return absl::OkStatus();
    }
    if (frame.type != core::FrameType::kPushResponse) {
      return absl::InternalError(
          absl::StrCat("shuffle server ", conn.address(), " answered a push with a ",
                       core::ToAbsl(core::FrameTypeName(frame.type)), " frame"));
    }
    --target.pushes_in_flight;
    return absl::OkStatus();
  }

  absl::Status SendBatch() {
    if (superseded()) {
      batch.clear();
      batch_header.Clear();
    }
    if (batch_header.blocks_size() == 0) {
      return absl::OkStatus();
    }
    FillCredentials(batch_header.mutable_credentials());
    batch_header.set_shuffle_id(shuffle.shuffle.value());
    batch_header.set_map_id(map.value());
    batch_header.set_attempt(attempt.value());
    if (options.register_shuffle_on_push) {
      batch_header.set_num_partitions(shuffle.num_partitions);
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      WriteTarget& target = targets[i];
      if (target.superseded) {
        continue;
      }
      // The replica may be the first to hear of the shuffle: its pushes register it (the
      // application's token authorizes that).
      if (i > 0) {
        batch_header.set_num_partitions(shuffle.num_partitions);
      }
      SHUFFLE_RETURN_IF_ERROR(
          FromServer(target.conn->Send(core::FrameType::kPushRequest, target.conn->NextRequestId(),
                                       batch_header, batch),
                     target.conn->address()));
      ++target.pushes_in_flight;
    }
    batch.clear();
    batch_header.Clear();
    for (WriteTarget& target : targets) {
      while (target.pushes_in_flight >= options.max_pushes_in_flight) {
        SHUFFLE_RETURN_IF_ERROR(AwaitPushResponse(target));
      }
    }
    return absl::OkStatus();
  }

  // Encodes `raw` as one block of `partition` into the next push; sends the push when full.
  absl::Status AddBlock(uint32_t partition, std::string_view raw, uint32_t record_count) {
    const size_t before = batch.size();
    SHUFFLE_RETURN_IF_ERROR(core::EncodeBlock(raw, record_count, compressor.get(), &batch));
    proto::BlockRef* ref = batch_header.add_blocks();
    ref->set_partition_id(partition);
    ref->set_length(static_cast<uint32_t>(batch.size() - before));
    pushed_blocks += 1;
    pushed_bytes += batch.size() - before;
    // The server takes push headers of up to 64 KiB: about 6,000 block references.
    if (batch.size() >= options.push_batch_bytes || batch_header.blocks_size() >= kMaxPushBlocks) {
      return SendBatch();
    }
    return absl::OkStatus();
  }

  absl::Status CutBlock(uint32_t partition) {
    std::string& raw = buffers[partition];
    if (raw.empty()) {
      return absl::OkStatus();
    }
    const uint32_t count = records[partition];
    buffered -= raw.size();
    records[partition] = 0;
    absl::Status st = AddBlock(partition, raw, count);
    raw.clear();
    return st;
  }

  // Whether the writer takes data for `partition` now: the sticky failure, if any; not after
  // the commit; only partitions of the shuffle.
  absl::Status CheckWritable(uint32_t partition) const {
    if (!failure.ok()) {
      return failure;
    }
    if (committed) {
      return absl::FailedPreconditionError(absl::StrCat(What(), ": already committed"));
    }
    if (partition >= shuffle.num_partitions) {
      return absl::InvalidArgumentError(absl::StrCat(What(), ": partition ", partition,
                                                     " out of range (", shuffle.num_partitions,
                                                     " partitions)"));
    }
    return absl::OkStatus();
  }

  // Cuts the largest buffers early when the writer holds too much.
  absl::Status RelieveMemory() {
    while (buffered > options.max_buffered_bytes / 2) {
      auto largest = std::max_element(
          buffers.begin(), buffers.end(),
          [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
      SHUFFLE_RETURN_IF_ERROR(CutBlock(static_cast<uint32_t>(largest - buffers.begin())));
    }
    return absl::OkStatus();
  }

  // The commit's answer from `target`, sent as request `id`.
  static absl::StatusOr<CommitResult> AwaitCommit(WriteTarget& target, uint64_t id) {
    absl::StatusOr<CommitResult> result = ReceiveCommit(target, id);
    if (!result.ok()) {
      return FromServer(result.status(), target.conn->address());
    }
    return result;
  }

  static absl::StatusOr<CommitResult> ReceiveCommit(WriteTarget& target, uint64_t id) {
    FrameConnection& conn = *target.conn;
    SHUFFLE_ASSIGN_OR_RETURN(core::Frame frame, conn.Receive());
    if (frame.type == core::FrameType::kError) {
      return ErrorFrameToStatus(frame, conn.address());
    }
    proto::CommitResponse response;
    if (frame.type != core::FrameType::kCommitResponse || frame.request_id != id ||
        !response.ParseFromString(frame.header)) {
      return absl::InternalError(absl::StrCat("shuffle server ", conn.address(),
                                              " sent an unexpected answer to a commit"));
    }
    SHUFFLE_ASSIGN_OR_RETURN(MapStatus status,
                             MapStatus::Parse(response.status().SerializeAsString()));
    if (status.address.empty()) {
      status.address = conn.address();
    }
    return CommitResult{.status = std::move(status), .won = response.won(), .replica = {}};
  }

  absl::StatusOr<CommitResult> DoCommit() {
    for (uint32_t p = 0; p < buffers.size(); ++p) {
      SHUFFLE_RETURN_IF_ERROR(CutBlock(p));
    }
    SHUFFLE_RETURN_IF_ERROR(SendBatch());
    for (WriteTarget& target : targets) {
      while (target.pushes_in_flight > 0) {
        SHUFFLE_RETURN_IF_ERROR(AwaitPushResponse(target));
      }
    }
    proto::CommitRequest request;
    FillCredentials(request.mutable_credentials());
    request.set_shuffle_id(shuffle.shuffle.value());
    request.set_map_id(map.value());
    request.set_attempt(attempt.value());
    request.set_num_partitions(shuffle.num_partitions);
    request.set_expected_blocks(pushed_blocks);
    request.set_expected_bytes(pushed_bytes);
    // The replica may be the first to hear of the shuffle (as above).
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < targets.size(); ++i) {
      request.set_register_shuffle(options.register_shuffle_on_push || i > 0);
      ids.push_back(targets[i].conn->NextRequestId());
      SHUFFLE_RETURN_IF_ERROR(
          FromServer(targets[i].conn->Send(core::FrameType::kCommitRequest, ids.back(), request),
                     targets[i].conn->address()));
    }
    // Both commits run at once; the answer is the primary's, once the replica's is in too.
    SHUFFLE_ASSIGN_OR_RETURN(CommitResult result, AwaitCommit(targets[0], ids[0]));
    if (targets.size() > 1) {
      absl::StatusOr<CommitResult> replica = AwaitCommit(targets[1], ids[1]);
      if (!replica.ok()) {
        return core::Annotate(replica.status(), "the replica's commit");
      }
      result.replica = std::move(replica->status);
    }
    return result;
  }
};

namespace {

// Connects to `address`; with options.writer_waits_for_server, waits while it refuses
// connections (a restarting server: a DaemonSet pod replaced, a crash), as readers do, rather
// than fail the task at once.
absl::StatusOr<std::unique_ptr<FrameConnection>> ConnectWriter(const ClientOptions& options,
                                                               const std::string& address) {
  int64_t backoff_ms = options.initial_backoff_ms;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::unique_ptr<FrameConnection>> conn =
        FrameConnection::Connect(address, options.connect_timeout_ms, options.io_timeout_ms,
                                 options.max_frame_payload, TlsFiles(options));
    if (conn.ok()) {
      return conn;
    }
    if (!options.writer_waits_for_server || !absl::IsUnavailable(conn.status()) ||
        attempt >= options.max_retries) {
      return FromServer(conn.status(), address);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, options.max_backoff_ms);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<MapOutputWriter>> MapOutputWriter::Open(const ClientOptions& options,
                                                                       const ShuffleHandle& shuffle,
                                                                       core::MapId map,
                                                                       core::AttemptId attempt) {
  if (shuffle.num_partitions == 0) {
    return absl::InvalidArgumentError("shuffle handle has no partitions");
  }
  if (options.block_bytes == 0 || options.max_pushes_in_flight == 0) {
    return absl::InvalidArgumentError("block_bytes and max_pushes_in_flight must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->shuffle = shuffle;
  impl->map = map;
  impl->attempt = attempt;
  std::string address = options.server;
  if (address.empty()) {
    SHUFFLE_ASSIGN_OR_RETURN(address, DiscoverLocalServer());
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<FrameConnection> primary,
                           ConnectWriter(options, address));
  impl->targets.push_back(WriteTarget{.conn = std::move(primary)});
  if (!options.replica_server.empty()) {
    absl::StatusOr<std::unique_ptr<FrameConnection>> replica =
        ConnectWriter(options, options.replica_server);
    if (!replica.ok()) {
      return core::Annotate(replica.status(), "the replica");
    }
    impl->targets.push_back(WriteTarget{.conn = *std::move(replica)});
  }
  if (options.compression_level != 0 && options.compression_codec != core::Codec::kNone) {
    SHUFFLE_ASSIGN_OR_RETURN(impl->compressor, core::Compressor::Create(options.compression_codec,
                                                                        options.compression_level));
  }
  impl->buffers.resize(shuffle.num_partitions);
  impl->records.resize(shuffle.num_partitions);
  return std::unique_ptr<MapOutputWriter>(new MapOutputWriter(std::move(impl)));
}

MapOutputWriter::MapOutputWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MapOutputWriter::~MapOutputWriter() = default;

absl::Status MapOutputWriter::Write(core::PartitionId partition, std::string_view key,
                                    std::string_view value) {
  Impl& w = *impl_;
  SHUFFLE_RETURN_IF_ERROR(w.CheckWritable(partition.value()));
  if (w.superseded()) {
    w.bytes_written += key.size() + value.size();
    return absl::OkStatus();  // another attempt's output is served; nothing to push
  }
  std::string& buffer = w.buffers[partition.value()];
  const size_t before = buffer.size();
  AppendRecord(&buffer, key, value);
  ++w.records[partition.value()];
  w.buffered += buffer.size() - before;
  w.bytes_written += key.size() + value.size();
  absl::Status st;
  if (buffer.size() >= w.options.block_bytes) {
    st = w.CutBlock(partition.value());
  }
  if (st.ok() && w.buffered > w.options.max_buffered_bytes) {
    st = w.RelieveMemory();
  }
  if (!st.ok()) {
    w.failure = core::Annotate(st, w.What());
  }
  return w.failure;
}

absl::Status MapOutputWriter::WriteBlock(core::PartitionId partition, std::string_view raw,
                                         uint32_t records) {
  Impl& w = *impl_;
  SHUFFLE_RETURN_IF_ERROR(w.CheckWritable(partition.value()));
  if (raw.size() > core::kMaxBlockSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(w.What(), ": a block of ", raw.size(), " bytes for partition ",
                     partition.value(), " is larger than the largest block (", core::kMaxBlockSize,
                     " bytes); a single record must be smaller than that"));
  }
  w.bytes_written += raw.size();
  if (w.superseded()) {
    return absl::OkStatus();  // another attempt's output is served; nothing to push
  }
  absl::Status st = w.CutBlock(partition.value());
  if (st.ok()) {
    st = w.AddBlock(partition.value(), raw, records);
  }
  if (!st.ok()) {
    w.failure = core::Annotate(st, w.What());
  }
  return w.failure;
}

absl::StatusOr<MapOutputWriter::CommitResult> MapOutputWriter::Commit() {
  Impl& w = *impl_;
  if (!w.failure.ok()) {
    return w.failure;
  }
  if (w.committed) {
    return absl::FailedPreconditionError(absl::StrCat(w.What(), ": already committed"));
  }
  absl::StatusOr<CommitResult> result = w.DoCommit();
  if (!result.ok()) {
    w.failure = core::Annotate(result.status(), absl::StrCat("committing ", w.What()));
    return w.failure;
  }
  w.committed = true;
  return result;
}

uint64_t MapOutputWriter::bytes_written() const { return impl_->bytes_written; }

std::string WriterFailedServer(const absl::Status& status) {
  const auto address = status.GetPayload(kFailedServerPayload);
  return address.has_value() ? std::string(*address) : std::string();
}

uint64_t MapOutputWriter::encoded_bytes() const { return impl_->pushed_bytes; }

}  // namespace shuffle::client
