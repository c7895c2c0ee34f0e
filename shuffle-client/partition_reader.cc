// The reader's consumer side and its threads: one fetcher per server (up to
// max_parallel_servers at once) fills the ChunkQueue; Next() walks the records of one chunk at a
// time without taking a lock per block or per record.
#include "shuffle/client/partition_reader.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-client/chunk_pool.h"
#include "shuffle-client/chunk_queue.h"
#include "shuffle-client/fetch_plan.h"
#include "shuffle-client/live_connections.h"
#include "shuffle-client/record_format.h"
#include "shuffle-client/server_fetcher.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::client {

struct PartitionReader::Impl {
  Impl(const ClientOptions& options_in, const ShuffleHandle& shuffle_in, uint32_t begin,
       uint32_t end, std::vector<ServerPlan> plans_in)
      : options(options_in),
        shuffle(shuffle_in),
        plans(std::move(plans_in)),
        queue(options.max_bytes_in_flight, plans.size(), &ChunkPool::Shared()),
        scope(FetchScope{.options = &options,
                         .shuffle = &shuffle,
                         .partition_begin = begin,
                         .partition_end = end,
                         .queue = &queue,
                         .live = &live,
                         .retries = &retries}) {}

  const ClientOptions options;
  const ShuffleHandle shuffle;
  std::vector<ServerPlan> plans;
  ChunkQueue queue;
  LiveConnections live;
  std::atomic<uint64_t> retries{0};
  const FetchScope scope;
  std::atomic<size_t> next_plan{0};
  std::vector<std::thread> workers;

  absl::Mutex mu;
  std::string failed_server ABSL_GUARDED_BY(mu);

  // Consumer side: the chunk being read, its next block, and that block's records.
  std::unique_ptr<FetchChunk> current;
  size_t next_block = 0;
  RecordIterator records{std::string_view()};
  std::atomic<uint64_t> records_read{0};  // atomic: stats() may be called from another thread

  // Ends the reader with `st` (the first failure wins) and unblocks every fetcher.
  void Fail(const absl::Status& st, const std::string& server) {
    {
      absl::MutexLock lock(&mu);
      if (failed_server.empty()) {
        failed_server = server;
      }
    }
    queue.Close(st);
    live.Cancel();
  }

  void Work() {
    for (size_t i = next_plan++; i < plans.size(); i = next_plan++) {
      absl::Status st = FetchFromServer(scope, &plans[i]);
      if (!st.ok()) {
        if (!absl::IsCancelled(st)) {
          Fail(st, plans[i].address);
        }
        return;
      }
      queue.ProducerDone();
    }
  }
};

absl::StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::Open(
    const ClientOptions& options, const ShuffleHandle& shuffle, core::PartitionId partition_begin,
    core::PartitionId partition_end, const std::vector<MapStatus>& statuses) {
  SHUFFLE_ASSIGN_OR_RETURN(
      std::vector<ServerPlan> plans,
      PlanFetch(shuffle, partition_begin.value(), partition_end.value(), statuses));
  return Start(std::make_unique<Impl>(options, shuffle, partition_begin.value(),
                                      partition_end.value(), std::move(plans)));
}

absl::StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::Open(
    const ClientOptions& options, const ShuffleHandle& shuffle, core::PartitionId partition_begin,
    core::PartitionId partition_end, const std::vector<MapLocation>& maps) {
  SHUFFLE_ASSIGN_OR_RETURN(
      std::vector<ServerPlan> plans,
      PlanLookups(shuffle, partition_begin.value(), partition_end.value(), maps));
  return Start(std::make_unique<Impl>(options, shuffle, partition_begin.value(),
                                      partition_end.value(), std::move(plans)));
}

std::unique_ptr<PartitionReader> PartitionReader::Start(std::unique_ptr<Impl> impl) {
  const ClientOptions& options = impl->options;
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
  impl_->queue.Close(absl::CancelledError("reader closed"));
  impl_->live.Cancel();
  for (std::thread& t : impl_->workers) {
    t.join();
  }
  impl_->queue.Recycle(std::move(impl_->current));
}

absl::StatusOr<bool> PartitionReader::Next(std::string_view* key, std::string_view* value) {
  Impl& r = *impl_;
  for (;;) {
    SHUFFLE_ASSIGN_OR_RETURN(bool has, r.records.Next(key, value));
    if (has) {
      r.records_read.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    if (r.current == nullptr || r.next_block == r.current->blocks()) {
      SHUFFLE_ASSIGN_OR_RETURN(r.current, r.queue.Next(std::move(r.current)));
      r.next_block = 0;
      if (r.current == nullptr) {
        r.records = RecordIterator(std::string_view());
        return false;  // every server delivered everything it promised
      }
    }
    r.records = RecordIterator(r.current->block(r.next_block++));
  }
}

absl::StatusOr<bool> PartitionReader::NextBlock(std::string_view* raw) {
  bool timed_out = false;
  return NextBlock(raw, absl::InfiniteDuration(), &timed_out);
}

absl::StatusOr<bool> PartitionReader::NextBlock(std::string_view* raw, absl::Duration wait,
                                                bool* timed_out) {
  Impl& r = *impl_;
  *timed_out = false;
  while (r.current == nullptr || r.next_block == r.current->blocks()) {
    if (wait != absl::InfiniteDuration() && !r.queue.WaitReady(wait)) {
      *timed_out = true;
      return false;
    }
    SHUFFLE_ASSIGN_OR_RETURN(r.current, r.queue.Next(std::move(r.current)));
    r.next_block = 0;
    if (r.current == nullptr) {
      return false;  // every server delivered everything it promised
    }
  }
  *raw = r.current->block(r.next_block++);
  return true;
}

std::string PartitionReader::failed_server() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->failed_server;
}

PartitionReader::Stats PartitionReader::stats() const {
  const ChunkQueue::Totals totals = impl_->queue.totals();
  return Stats{.blocks = totals.blocks,
               .bytes = totals.encoded_bytes,
               .records = impl_->records_read.load(std::memory_order_relaxed),
               .retries = impl_->retries.load(std::memory_order_relaxed)};
}

}  // namespace shuffle::client
