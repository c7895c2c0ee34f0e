#include "shuffle-client/server_fetcher.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "shuffle-client/frame_connection.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::client {
namespace {

bool Retryable(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st) || absl::IsResourceExhausted(st) ||
         absl::IsAborted(st);
}

// State of one server's fetch that outlives a failed attempt: the decompressor, the parsed
// frame header (its repeated fields are reused from frame to frame) and the chunk being filled.
struct Fetcher {
  const FetchScope& scope;
  ServerPlan& plan;
  BlockSource source;
  std::unique_ptr<core::Decompressor> decompressor;
  proto::FetchData data;
  std::unique_ptr<FetchChunk> chunk;
  uint64_t delivered_bytes = 0;

  absl::Status WithRetries();
  absl::Status Once();
  // Resolves a plan made from map locations (plan.lookup) with the server's answer.
  absl::Status Lookup(FrameConnection& conn);
  absl::Status Receive(FrameConnection& conn);
};

absl::Status Fetcher::WithRetries() {
  const ClientOptions& options = *scope.options;
  int64_t backoff_ms = options.initial_backoff_ms;
  for (int attempt = 0;; ++attempt) {
    absl::Status st = Once();
    if (st.ok()) {
      const uint64_t delivered = plan.blocks.delivered();
      if (delivered != plan.expected_blocks || delivered_bytes != plan.expected_bytes) {
        return absl::DataLossError(absl::StrCat(
            "short read from shuffle server ", plan.address, ": received ", delivered, " blocks (",
            delivered_bytes, " bytes) of partitions [", scope.partition_begin, ", ",
            scope.partition_end, "), the map statuses promise ", plan.expected_blocks, " (",
            plan.expected_bytes, " bytes)"));
      }
      return absl::OkStatus();
    }
    if (absl::IsCancelled(st) || !Retryable(st) || attempt >= options.max_retries ||
        scope.live->cancelled()) {
      return st;
    }
    scope.retries->fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, options.max_backoff_ms);
  }
}

absl::Status Fetcher::Once() {
  const ClientOptions& options = *scope.options;
  SHUFFLE_ASSIGN_OR_RETURN(
      std::unique_ptr<FrameConnection> conn,
      FrameConnection::Connect(plan.address, options.connect_timeout_ms, options.io_timeout_ms,
                               options.max_frame_payload, TlsFiles(options)));
  if (!scope.live->Add(conn.get())) {
    return absl::CancelledError("reader closed");
  }
  absl::Status st = Receive(*conn);
  scope.live->Remove(conn.get());
  return st;
}

absl::Status Fetcher::Lookup(FrameConnection& conn) {
  proto::LookupRequest request;
  request.mutable_credentials()->set_app_id(scope.shuffle->app_id);
  request.mutable_credentials()->set_token(scope.shuffle->token);
  request.set_shuffle_id(scope.shuffle->shuffle.value());
  request.set_partition_start(scope.partition_begin);
  request.set_partition_end(scope.partition_end);
  request.mutable_maps()->Assign(plan.lookup.begin(), plan.lookup.end());
  const uint64_t id = conn.NextRequestId();
  SHUFFLE_RETURN_IF_ERROR(conn.Send(core::FrameType::kLookupRequest, id, request));
  SHUFFLE_ASSIGN_OR_RETURN(core::Frame frame, conn.Receive());
  if (frame.type == core::FrameType::kError) {
    return ErrorFrameToStatus(frame, plan.address);
  }
  proto::LookupResponse response;
  if (frame.type != core::FrameType::kLookupResponse || frame.request_id != id ||
      !response.ParseFromString(frame.header)) {
    return absl::InternalError(
        absl::StrCat("shuffle server ", plan.address, " sent an unexpected answer to a lookup"));
  }
  return ResolveLookup(response, &plan);
}

absl::Status Fetcher::Receive(FrameConnection& conn) {
  if (!plan.lookup.empty()) {
    SHUFFLE_RETURN_IF_ERROR(Lookup(conn));
    if (plan.expected_blocks == 0) {
      return absl::OkStatus();  // the server holds nothing of these maps in the range
    }
  }
  proto::FetchRequest request;
  request.mutable_credentials()->set_app_id(scope.shuffle->app_id);
  request.mutable_credentials()->set_token(scope.shuffle->token);
  request.set_shuffle_id(scope.shuffle->shuffle.value());
  request.set_partition_start(scope.partition_begin);
  request.set_partition_end(scope.partition_end);
  request.set_map_start(plan.map_begin);
  request.set_map_end(plan.map_end);
  request.mutable_map_ids()->Assign(plan.map_ids.begin(), plan.map_ids.end());
  SHUFFLE_RETURN_IF_ERROR(conn.Send(core::FrameType::kFetchRequest, conn.NextRequestId(), request));
  for (;;) {
    if (chunk == nullptr) {
      chunk = scope.queue->TakeEmpty();
    }
    SHUFFLE_ASSIGN_OR_RETURN(FrameHead frame, conn.ReceiveInto(&chunk->payload()));
    switch (frame.type) {
      case core::FrameType::kFetchEnd:
        return absl::OkStatus();
      case core::FrameType::kError:
        return ErrorFrameToStatus(frame.header, plan.address);
      case core::FrameType::kFetchData:
        break;
      default:
        return absl::InternalError(absl::StrCat("shuffle server ", plan.address, " sent a ",
                                                core::ToAbsl(core::FrameTypeName(frame.type)),
                                                " frame during a fetch"));
    }
    if (!data.ParseFromArray(frame.header.data(), static_cast<int>(frame.header.size()))) {
      return absl::InternalError(absl::StrCat("unreadable FetchData from ", plan.address));
    }
    SHUFFLE_RETURN_IF_ERROR(
        DecodeFetchData(data, source, &plan.blocks, decompressor.get(), chunk.get()));
    if (chunk->blocks() == 0) {
      continue;  // everything in it was delivered before a retry: reuse the chunk
    }
    delivered_bytes += chunk->encoded_bytes();
    if (!scope.queue->Push(std::move(chunk))) {
      return absl::CancelledError("reader closed");
    }
  }
}

}  // namespace

absl::Status FetchFromServer(const FetchScope& scope, ServerPlan* plan) {
  Fetcher fetcher{.scope = scope,
                  .plan = *plan,
                  .source = BlockSource{.shuffle = absl::StrCat(scope.shuffle->app_id, "/",
                                                                scope.shuffle->shuffle.value()),
                                        .server = plan->address},
                  .decompressor = nullptr,
                  .data = {},
                  .chunk = nullptr,
                  .delivered_bytes = 0};
  SHUFFLE_ASSIGN_OR_RETURN(fetcher.decompressor, core::Decompressor::Create());
  absl::Status st = fetcher.WithRetries();
  scope.queue->Recycle(std::move(fetcher.chunk));
  return st;
}

}  // namespace shuffle::client
