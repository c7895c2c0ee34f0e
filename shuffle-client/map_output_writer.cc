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

}  // namespace

struct MapOutputWriter::Impl {
  ClientOptions options;
  ShuffleHandle shuffle;
  core::MapId map{0};
  core::AttemptId attempt{0};
  std::unique_ptr<FrameConnection> conn;
  std::unique_ptr<core::Compressor> compressor;  // null when compression is off
  std::vector<std::string> buffers;              // per partition, raw records
  std::vector<uint32_t> records;                 // per partition, records in the buffer
  uint64_t buffered = 0;
  std::string batch;  // encoded blocks of the next push
  proto::PushRequest batch_header;
  uint32_t pushes_in_flight = 0;
  uint64_t pushed_blocks = 0;
  uint64_t pushed_bytes = 0;
  uint64_t bytes_written = 0;
  bool committed = false;
  // Another attempt of this map committed first (a retry of a map whose first executor died
  // after committing): nothing more is pushed, and Commit() returns the winner's status.
  bool superseded = false;
  absl::Status failure;  // sticky: a writer that failed once stays failed

  std::string What() const {
    return absl::StrCat("shuffle ", shuffle.app_id, "/", shuffle.shuffle.value(), " map ",
                        map.value(), " attempt ", attempt.value());
  }

  void FillCredentials(proto::Credentials* c) const {
    c->set_app_id(shuffle.app_id);
    c->set_token(shuffle.token);
  }

  absl::Status AwaitPushResponse() {
    SHUFFLE_ASSIGN_OR_RETURN(core::Frame frame, conn->Receive());
    if (frame.type == core::FrameType::kError) {
      absl::Status st = ErrorFrameToStatus(frame, conn->address());
      if (!absl::IsAlreadyExists(st)) {
        return st;
      }
      superseded = true;
      --pushes_in_flight;
      return absl::OkStatus();
    }
    if (frame.type != core::FrameType::kPushResponse) {
      return absl::InternalError(
          absl::StrCat("shuffle server ", conn->address(), " answered a push with a ",
                       core::ToAbsl(core::FrameTypeName(frame.type)), " frame"));
    }
    --pushes_in_flight;
    return absl::OkStatus();
  }

  absl::Status SendBatch() {
    if (superseded) {
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
    SHUFFLE_RETURN_IF_ERROR(
        conn->Send(core::FrameType::kPushRequest, conn->NextRequestId(), batch_header, batch));
    ++pushes_in_flight;
    batch.clear();
    batch_header.Clear();
    while (pushes_in_flight >= options.max_pushes_in_flight) {
      SHUFFLE_RETURN_IF_ERROR(AwaitPushResponse());
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

  absl::StatusOr<CommitResult> DoCommit() {
    for (uint32_t p = 0; p < buffers.size(); ++p) {
      SHUFFLE_RETURN_IF_ERROR(CutBlock(p));
    }
    SHUFFLE_RETURN_IF_ERROR(SendBatch());
    while (pushes_in_flight > 0) {
      SHUFFLE_RETURN_IF_ERROR(AwaitPushResponse());
    }
    proto::CommitRequest request;
    FillCredentials(request.mutable_credentials());
    request.set_shuffle_id(shuffle.shuffle.value());
    request.set_map_id(map.value());
    request.set_attempt(attempt.value());
    request.set_num_partitions(shuffle.num_partitions);
    request.set_expected_blocks(pushed_blocks);
    request.set_expected_bytes(pushed_bytes);
    request.set_register_shuffle(options.register_shuffle_on_push);
    const uint64_t id = conn->NextRequestId();
    SHUFFLE_RETURN_IF_ERROR(conn->Send(core::FrameType::kCommitRequest, id, request));
    SHUFFLE_ASSIGN_OR_RETURN(core::Frame frame, conn->Receive());
    if (frame.type == core::FrameType::kError) {
      return ErrorFrameToStatus(frame, conn->address());
    }
    proto::CommitResponse response;
    if (frame.type != core::FrameType::kCommitResponse || frame.request_id != id ||
        !response.ParseFromString(frame.header)) {
      return absl::InternalError(absl::StrCat("shuffle server ", conn->address(),
                                              " sent an unexpected answer to a commit"));
    }
    SHUFFLE_ASSIGN_OR_RETURN(MapStatus status,
                             MapStatus::Parse(response.status().SerializeAsString()));
    if (status.address.empty()) {
      status.address = conn->address();
    }
    return CommitResult{.status = std::move(status), .won = response.won()};
  }
};

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
  // A server that is restarting (a DaemonSet pod replaced, a crash) refuses connections for a
  // while: wait for it, as readers do, rather than fail the task at once.
  int64_t backoff_ms = options.initial_backoff_ms;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::unique_ptr<FrameConnection>> conn =
        FrameConnection::Connect(address, options.connect_timeout_ms, options.io_timeout_ms,
                                 options.max_frame_payload, TlsFiles(options));
    if (conn.ok()) {
      impl->conn = std::move(*conn);
      break;
    }
    if (!options.writer_waits_for_server || !absl::IsUnavailable(conn.status()) ||
        attempt >= options.max_retries) {
      return conn.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, options.max_backoff_ms);
  }
  if (options.compression_level != 0) {
    SHUFFLE_ASSIGN_OR_RETURN(impl->compressor, core::Compressor::Create(options.compression_level));
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
  if (w.superseded) {
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
  if (w.superseded) {
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

uint64_t MapOutputWriter::encoded_bytes() const { return impl_->pushed_bytes; }

}  // namespace shuffle::client
