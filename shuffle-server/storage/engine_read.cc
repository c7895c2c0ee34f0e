// Reads: flush the requested partitions' aggregation buffers when they hold committed blocks,
// resolve the partitions to extents with one index prefix scan, keep only the winning attempts'
// blocks and coalesce neighbouring extents into large reads; then either submit the reads in
// batches (Read, scrub) or hand them out as a FetchPlan of file ranges (fetches, sent with
// sendfile by the data plane).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/aligned_buffer.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle-server/storage/read_plan.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

absl::StatusOr<std::unique_ptr<IoEngine>> ReadEnginePool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!engines_.empty()) {
      std::unique_ptr<IoEngine> engine = std::move(engines_.back());
      engines_.pop_back();
      return engine;
    }
  }
  return env_->NewIoEngine(queue_depth_);
}

void ReadEnginePool::Release(std::unique_ptr<IoEngine> engine) {
  absl::MutexLock lock(&mu_);
  engines_.push_back(std::move(engine));
}

ShufflePtr StorageEngine::Impl::FindActive(const ShuffleKey& key) {
  absl::MutexLock lock(&mu);
  ShufflePtr shuffle = catalog.Find(key);
  if (shuffle != nullptr) {
    shuffle->last_activity = absl::Now();
  }
  return shuffle;
}

absl::Status StorageEngine::Impl::ReadRanges(const std::vector<ReadRange>& ranges,
                                             const std::vector<File*>& files,
                                             const RangeBatchFn& fn) {
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<IoEngine> engine, read_engines.Acquire());
  const IoStats before = engine->stats();
  absl::Status status;
  // One batch of reads at a time, up to max_read_bytes of buffers (at least one range), handed to
  // `fn` before the next batch is read: memory stays bounded per reader.
  for (size_t first = 0; first < ranges.size() && status.ok();) {
    std::vector<AlignedBuffer> buffers;
    std::vector<IoOp> ops;
    uint64_t batch_bytes = 0;
    size_t last = first;
    for (; last < ranges.size() &&
           (last == first || batch_bytes + ranges[last].length <= options.max_read_bytes);
         ++last) {
      const ReadRange& range = ranges[last];
      buffers.emplace_back(range.length);
      batch_bytes += range.length;
      ops.push_back(IoOp{.kind = IoKind::kRead,
                         .file = files[range.dir],
                         .offset = range.offset,
                         .buffer = buffers.back().data(),
                         .length = range.length});
    }
    std::vector<absl::Status> results;
    (void)RunToCompletion(*engine, std::span<IoOp>(ops), &results);  // per-op results below
    status = fn(std::span<const ReadRange>(ranges.data() + first, last - first), buffers, results);
    first = last;
  }
  const IoStats after = engine->stats();
  read_engines.Release(std::move(engine));
  absl::MutexLock lock(&mu);
  stats.disk_reads += after.reads - before.reads;
  stats.bytes_read += after.bytes_read - before.bytes_read;
  return status;
}

absl::StatusOr<StorageEngine::Impl::PreparedRead> StorageEngine::Impl::PrepareRead(
    const ShuffleKey& key, const ReadRequest& request) {
  const uint32_t begin = request.partition_begin.value();
  const uint32_t end = request.partition_end.value();
  PreparedRead prepared;
  prepared.shuffle = FindActive(key);
  const ShufflePtr& shuffle = prepared.shuffle;
  if (shuffle == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("shuffle ", key.app.value(), "/", key.shuffle.value(), " is not registered"));
  }
  if (begin >= end || end > shuffle->record.num_partitions) {
    return absl::InvalidArgumentError(absl::StrCat("partition range [", begin, ", ", end,
                                                   ") is not within the shuffle's ",
                                                   shuffle->record.num_partitions, " partitions"));
  }
  // The first read of a partition flushes what is still aggregating in memory.
  SHUFFLE_RETURN_IF_ERROR(FlushAndWait(shuffle, begin, end, /*everything=*/false));
  WinnerMap winners;
  SnapshotWinners(*shuffle, request.map_begin.value(), request.map_end.value(), &winners);
  if (!request.maps.empty()) {
    WinnerMap wanted;
    for (core::MapId map : request.maps) {
      if (auto it = winners.find(map.value()); it != winners.end()) {
        wanted.insert(*it);
      }
    }
    winners = std::move(wanted);
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<ExtentRecord> extents,
                           index->ScanExtents(shuffle->record.handle, begin, end));
  // A removal leaves the catalog before its index records go: a shuffle still in the catalog
  // after the scan was scanned whole, one gone may have been scanned half-deleted.
  if (FindActive(key) != shuffle) {
    return absl::NotFoundError(
        absl::StrCat("shuffle ", key.app.value(), "/", key.shuffle.value(), " was removed"));
  }
  prepared.ranges = PlanReads(extents, winners, options.max_read_bytes);
  // The segment files never change once the shuffle is published.
  for (uint32_t d = 0; d < shuffle->segments.dirs(); ++d) {
    prepared.files.push_back(shuffle->segments.file(d).file.get());
    prepared.serve_fds.push_back(shuffle->segments.file(d).ServeFd());
  }
  return prepared;
}

absl::Status StorageEngine::Impl::Read(const ShuffleKey& key, const ReadRequest& request,
                                       const BlockSink& sink) {
  SHUFFLE_ASSIGN_OR_RETURN(PreparedRead prepared, PrepareRead(key, request));
  absl::Status status = ReadRanges(
      prepared.ranges, prepared.files,
      [&](std::span<const ReadRange> batch_ranges, const std::vector<AlignedBuffer>& buffers,
          const std::vector<absl::Status>& results) -> absl::Status {
        std::vector<ServedBlock> batch;
        for (size_t r = 0; r < batch_ranges.size(); ++r) {
          SHUFFLE_RETURN_IF_ERROR(results[r]);
          const char* data = buffers[r].data();
          for (const ReadRange::Slice& slice : batch_ranges[r].slices) {
            batch.push_back(
                ServedBlock{.origin = slice.entry,
                            .bytes = std::string(data + slice.offset, slice.entry.length)});
          }
        }
        return sink(std::move(batch));
      });
  if (!status.ok()) {
    return core::Annotate(
        status, absl::StrCat("reading shuffle ", key.app.value(), "/", key.shuffle.value()));
  }
  return absl::OkStatus();
}

absl::StatusOr<FetchPlan> StorageEngine::Impl::PlanFetch(const ShuffleKey& key,
                                                         const ReadRequest& request) {
  SHUFFLE_ASSIGN_OR_RETURN(PreparedRead prepared, PrepareRead(key, request));
  FetchPlan plan = BuildFetchPlan(prepared.ranges, prepared.serve_fds);
  // The shuffle's state owns the segment files: holding it keeps their descriptors open while
  // the plan is being sent, even if the shuffle is removed meanwhile.
  plan.files = std::move(prepared.shuffle);
  // One read per file range: the sender reads each with one sendfile stream (the kernel's
  // readahead splits it into large reads), so this keeps meaning "reads per partition".
  absl::MutexLock lock(&mu);
  stats.disk_reads += plan.ranges.size();
  stats.bytes_read += plan.bytes;
  return plan;
}

absl::StatusOr<std::vector<MapHolding>> StorageEngine::Lookup(
    const ShuffleKey& key, core::PartitionId begin, core::PartitionId end,
    const std::vector<core::MapId>& maps) {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  ShufflePtr shuffle = impl.catalog.Find(key);
  if (shuffle == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("shuffle ", key.app.value(), "/", key.shuffle.value(), " is not registered"));
  }
  if (begin.value() >= end.value() || end.value() > shuffle->record.num_partitions) {
    return absl::InvalidArgumentError(absl::StrCat("partition range [", begin.value(), ", ",
                                                   end.value(), ") is not within the shuffle's ",
                                                   shuffle->record.num_partitions, " partitions"));
  }
  shuffle->last_activity = absl::Now();
  std::vector<MapHolding> holdings;
  holdings.reserve(maps.size());
  for (core::MapId map : maps) {
    MapHolding& holding = holdings.emplace_back(MapHolding{.map = map});
    auto it = shuffle->winners.find(map.value());
    if (it == shuffle->winners.end()) {
      continue;
    }
    const CommitRecord& record = it->second;
    holding.committed = true;
    holding.attempt = core::AttemptId(record.attempt);
    for (const PartitionTotal& total : record.partitions) {
      holding.attempt_blocks += total.blocks;
      if (total.partition >= begin.value() && total.partition < end.value()) {
        holding.blocks += total.blocks;
        holding.bytes += total.bytes;
      }
    }
  }
  return holdings;
}

void StorageEngine::Impl::SnapshotWinners(const ShuffleState& shuffle, uint32_t map_begin,
                                          uint32_t map_end, WinnerMap* winners) {
  absl::MutexLock lock(&mu);
  for (const auto& [map, record] : shuffle.winners) {
    if (map >= map_begin && map < map_end) {
      (*winners)[map] = {record.attempt, record.epoch};
    }
  }
}

}  // namespace shuffle::storage
