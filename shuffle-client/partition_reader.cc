#include "shuffle/client/partition_reader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-client/block_tracker.h"
#include "shuffle-client/frame_connection.h"
#include "shuffle-client/record_format.h"
#include "shuffle/core/block.h"
#include "shuffle/core/compression.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::client {
namespace {

// What one server must deliver for the requested partitions.
struct ServerPlan {
  std::string address;
  uint32_t map_begin = UINT32_MAX;
  uint32_t map_end = 0;
  BlockTracker blocks;  // the attempts served from it, and what was delivered across retries
  uint64_t expected_blocks = 0;
  uint64_t expected_bytes = 0;
};

bool Retryable(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st) || absl::IsResourceExhausted(st) ||
         absl::IsAborted(st);
}

}  // namespace

struct PartitionReader::Impl {
  ClientOptions options;
  ShuffleHandle shuffle;
  uint32_t partition_begin = 0;
  uint32_t partition_end = 0;
  std::vector<ServerPlan> plans;
  std::vector<std::thread> workers;
  std::atomic<size_t> next_plan{0};

  absl::Mutex mu;
  std::deque<std::string> queue ABSL_GUARDED_BY(mu);  // raw (decoded) blocks
  uint64_t queued_bytes ABSL_GUARDED_BY(mu) = 0;
  size_t plans_done ABSL_GUARDED_BY(mu) = 0;
  absl::Status error ABSL_GUARDED_BY(mu);
  std::string failed_server ABSL_GUARDED_BY(mu);
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  std::set<FrameConnection*> live ABSL_GUARDED_BY(mu);
  Stats stats ABSL_GUARDED_BY(mu);

  std::string current;  // consumer side
  RecordIterator records{std::string_view()};

  void Fail(const absl::Status& st, const std::string& server = "") {
    absl::MutexLock lock(&mu);
    if (error.ok()) {
      error = st;
      failed_server = server;
    }
    cancelled = true;
    for (FrameConnection* c : live) {
      c->Shutdown();
    }
  }

  bool Cancelled() {
    absl::MutexLock lock(&mu);
    return cancelled;
  }

  // Hands a decoded block to the consumer, waiting while too much is queued.
  bool Enqueue(std::string raw, uint64_t encoded_bytes) {
    absl::MutexLock lock(&mu);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return cancelled || queue.empty() || queued_bytes < options.max_bytes_in_flight;
    };
    mu.Await(absl::Condition(&room));
    if (cancelled) {
      return false;
    }
    queued_bytes += raw.size();
    stats.blocks += 1;
    stats.bytes += encoded_bytes;
    queue.push_back(std::move(raw));
    return true;
  }

  absl::Status FetchOnce(ServerPlan* plan, uint64_t* delivered_bytes,
                         core::Decompressor* decompressor);
  absl::Status FetchWithRetries(ServerPlan* plan);
  void Work();
};

absl::Status PartitionReader::Impl::FetchOnce(ServerPlan* plan_ptr, uint64_t* delivered_bytes,
                                              core::Decompressor* decompressor) {
  const ServerPlan& plan = *plan_ptr;
  BlockTracker& tracker = plan_ptr->blocks;
  SHUFFLE_ASSIGN_OR_RETURN(
      std::unique_ptr<FrameConnection> conn,
      FrameConnection::Connect(plan.address, options.connect_timeout_ms, options.io_timeout_ms,
                               options.max_frame_payload));
  {
    absl::MutexLock lock(&mu);
    if (cancelled) {
      return absl::CancelledError("reader closed");
    }
    live.insert(conn.get());
  }
  struct Unregister {
    Impl* impl;
    FrameConnection* conn;
    ~Unregister() {
      absl::MutexLock lock(&impl->mu);
      impl->live.erase(conn);
    }
  } unregister{this, conn.get()};

  proto::FetchRequest request;
  request.mutable_credentials()->set_app_id(shuffle.app_id);
  request.mutable_credentials()->set_token(shuffle.token);
  request.set_shuffle_id(shuffle.shuffle.value());
  request.set_partition_start(partition_begin);
  request.set_partition_end(partition_end);
  request.set_map_start(plan.map_begin);
  request.set_map_end(plan.map_end);
  SHUFFLE_RETURN_IF_ERROR(
      conn->Send(core::FrameType::kFetchRequest, conn->NextRequestId(), request));
  for (;;) {
    SHUFFLE_ASSIGN_OR_RETURN(core::Frame frame, conn->Receive());
    switch (frame.type) {
      case core::FrameType::kFetchEnd:
        return absl::OkStatus();
      case core::FrameType::kError:
        return ErrorFrameToStatus(frame, plan.address);
      case core::FrameType::kFetchData:
        break;
      default:
        return absl::InternalError(absl::StrCat("shuffle server ", plan.address, " sent a ",
                                                core::ToAbsl(core::FrameTypeName(frame.type)),
                                                " frame during a fetch"));
    }
    proto::FetchData data;
    if (!data.ParseFromString(frame.header)) {
      return absl::InternalError(absl::StrCat("unreadable FetchData from ", plan.address));
    }
    size_t at = 0;
    for (const proto::BlockOrigin& origin : data.blocks()) {
      if (origin.length() > frame.payload.size() - at) {
        return absl::DataLossError(
            absl::StrCat("FetchData from ", plan.address, " lists more bytes than it carries"));
      }
      std::string_view bytes(frame.payload.data() + at, origin.length());
      at += origin.length();
      const BlockTracker::Slot slot = tracker.Find(origin.map_id(), origin.attempt());
      if (slot == BlockTracker::kUnknown || tracker.Delivered(slot, origin.seq())) {
        continue;  // not an attempt the driver knows of, or already received before a retry
      }
      std::string raw;
      if (absl::Status st = core::DecodeBlock(bytes, decompressor, &raw); !st.ok()) {
        return absl::DataLossError(absl::StrCat(
            "corrupt block: shuffle ", shuffle.app_id, "/", shuffle.shuffle.value(), " map ",
            origin.map_id(), " attempt ", origin.attempt(), " partition ", origin.partition_id(),
            " block ", origin.seq(), " from server ", plan.address, ": ", st.message()));
      }
      tracker.MarkDelivered(slot, origin.seq());
      *delivered_bytes += origin.length();
      if (!Enqueue(std::move(raw), origin.length())) {
        return absl::CancelledError("reader closed");
      }
    }
  }
}

absl::Status PartitionReader::Impl::FetchWithRetries(ServerPlan* plan_ptr) {
  const ServerPlan& plan = *plan_ptr;
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Decompressor> decompressor,
                           core::Decompressor::Create());
  uint64_t delivered_bytes = 0;
  int64_t backoff_ms = options.initial_backoff_ms;
  for (int attempt = 0;; ++attempt) {
    absl::Status st = FetchOnce(plan_ptr, &delivered_bytes, decompressor.get());
    if (st.ok()) {
      const uint64_t delivered = plan.blocks.delivered();
      if (delivered != plan.expected_blocks || delivered_bytes != plan.expected_bytes) {
        return absl::DataLossError(
            absl::StrCat("short read from shuffle server ", plan.address, ": received ", delivered,
                         " blocks (", delivered_bytes, " bytes) of partitions [", partition_begin,
                         ", ", partition_end, "), the map statuses promise ", plan.expected_blocks,
                         " (", plan.expected_bytes, " bytes)"));
      }
      return absl::OkStatus();
    }
    if (absl::IsCancelled(st) || !Retryable(st) || attempt >= options.max_retries || Cancelled()) {
      return st;
    }
    {
      absl::MutexLock lock(&mu);
      ++stats.retries;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, options.max_backoff_ms);
  }
}

void PartitionReader::Impl::Work() {
  for (size_t i = next_plan++; i < plans.size(); i = next_plan++) {
    absl::Status st = FetchWithRetries(&plans[i]);
    if (!st.ok()) {
      if (!absl::IsCancelled(st)) {
        Fail(st, plans[i].address);
      }
      return;
    }
    absl::MutexLock lock(&mu);
    ++plans_done;
  }
}

absl::StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::Open(
    const ClientOptions& options, const ShuffleHandle& shuffle, core::PartitionId partition_begin,
    core::PartitionId partition_end, const std::vector<MapStatus>& statuses) {
  const uint32_t begin = partition_begin.value();
  const uint32_t end = partition_end.value();
  if (begin >= end || end > shuffle.num_partitions) {
    return absl::InvalidArgumentError(absl::StrCat("partition range [", begin, ", ", end,
                                                   ") not within ", shuffle.num_partitions,
                                                   " partitions"));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->shuffle = shuffle;
  impl->partition_begin = begin;
  impl->partition_end = end;
  std::map<std::string, ServerPlan> by_server;
  for (const MapStatus& s : statuses) {
    if (s.shuffle != shuffle.shuffle || s.partition_blocks.size() < end ||
        s.partition_bytes.size() < end) {
      return absl::InvalidArgumentError(
          absl::StrCat("map status of map ", s.map.value(), " does not belong to shuffle ",
                       shuffle.shuffle.value(), " with ", shuffle.num_partitions, " partitions"));
    }
    uint64_t blocks = 0;
    uint64_t bytes = 0;
    for (uint32_t p = begin; p < end; ++p) {
      blocks += s.partition_blocks[p];
      bytes += s.partition_bytes[p];
    }
    if (blocks == 0) {
      continue;
    }
    ServerPlan& plan = by_server[s.address];
    plan.address = s.address;
    plan.map_begin = std::min(plan.map_begin, s.map.value());
    plan.map_end = std::max(plan.map_end, s.map.value() + 1);
    plan.blocks.Accept(s.map, s.attempt, s.total_blocks());
    plan.expected_blocks += blocks;
    plan.expected_bytes += bytes;
  }
  for (auto& [address, plan] : by_server) {
    impl->plans.push_back(std::move(plan));
  }
  const size_t threads =
      std::min<size_t>(impl->plans.size(), std::max<uint32_t>(1, options.max_parallel_servers));
  auto reader = std::unique_ptr<PartitionReader>(new PartitionReader(std::move(impl)));
  for (size_t t = 0; t < threads; ++t) {
    reader->impl_->workers.emplace_back([raw = reader->impl_.get()] { raw->Work(); });
  }
  return reader;
}

PartitionReader::PartitionReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PartitionReader::~PartitionReader() {
  impl_->Fail(absl::CancelledError("reader closed"));
  for (std::thread& t : impl_->workers) {
    t.join();
  }
}

absl::StatusOr<bool> PartitionReader::Next(std::string_view* key, std::string_view* value) {
  Impl& r = *impl_;
  for (;;) {
    SHUFFLE_ASSIGN_OR_RETURN(bool has, r.records.Next(key, value));
    if (has) {
      absl::MutexLock lock(&r.mu);
      ++r.stats.records;
      return true;
    }
    absl::MutexLock lock(&r.mu);
    auto ready = [&r]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu) {
      return !r.queue.empty() || !r.error.ok() || r.plans_done == r.plans.size();
    };
    r.mu.Await(absl::Condition(&ready));
    if (!r.error.ok()) {
      return r.error;
    }
    if (r.queue.empty()) {
      return false;  // every server delivered everything it promised
    }
    r.current = std::move(r.queue.front());
    r.queue.pop_front();
    r.queued_bytes -= r.current.size();
    r.records = RecordIterator(r.current);
  }
}

std::string PartitionReader::failed_server() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->failed_server;
}

PartitionReader::Stats PartitionReader::stats() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->stats;
}

}  // namespace shuffle::client
