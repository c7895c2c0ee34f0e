#include "shuffle-server/storage/io_round.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/sync_sites.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

using core::Kv;

// ---- 1. Collect ---------------------------------------------------------------------------

void IoRound::Collect(RoundContext& ctx, const std::vector<std::shared_ptr<CommitWaiter>>& commits,
                      uint64_t id, const IoRound* in_flight,
                      std::vector<std::shared_ptr<CommitWaiter>>* deferred) {
  id_ = id;
  for (WriteBuffers::Flush& flush : ctx.buffers.TakeFlushes(ctx.catalog.shuffles())) {
    AddFlush(ctx, std::move(flush));
  }
  for (const auto& [shuffle, block] : ctx.buffers.TakeDirect()) {
    AddDirect(ctx, shuffle, block);
  }
  absl::flat_hash_map<ShuffleState*, std::set<uint32_t>> maps_in_round;
  for (const auto& waiter : commits) {
    const uint32_t map = waiter->request.map.value();
    if (in_flight != nullptr && in_flight->CommitsMap(waiter->shuffle.get(), map)) {
      deferred->push_back(waiter);  // judged once the previous round's verdict is applied
      continue;
    }
    std::set<uint32_t>& maps = maps_in_round[waiter->shuffle.get()];
    Catalog::CommitVerdict verdict =
        Catalog::JudgeCommit(*waiter->shuffle, waiter->request, maps.count(map) > 0);
    switch (verdict.kind) {
      case Catalog::CommitVerdict::Kind::kDone:
        waiter->result = std::move(verdict.result);
        waiter->done = true;
        break;
      case Catalog::CommitVerdict::Kind::kWait:
        resolve_after_.push_back(waiter);
        break;
      case Catalog::CommitVerdict::Kind::kProceed:
        if (in_flight != nullptr && verdict.attempt != nullptr &&
            in_flight->WritesBlocksOf(*verdict.attempt)) {
          deferred->push_back(waiter);  // its blocks' fate is decided by the previous round
          break;
        }
        AddCommit(ctx, waiter, verdict.attempt);
        maps.insert(map);
        break;
    }
  }
}

bool IoRound::WritesBlocksOf(const AttemptState& attempt) const {
  if (flushes_.empty()) {
    return false;
  }
  auto mine = [&](const BlockPtr& block) {
    return block->state == BlockState::kFlushing && block->flush_round == id_;
  };
  return std::any_of(attempt.small_blocks.begin(), attempt.small_blocks.end(), mine) ||
         std::any_of(attempt.direct_blocks.begin(), attempt.direct_blocks.end(), mine);
}

void IoRound::AddFlush(RoundContext& ctx, WriteBuffers::Flush flush) {
  FlushJob job;
  job.shuffle = std::move(flush.shuffle);
  job.partition = flush.partition;
  job.dir = ctx.layout.DirOfPartition(flush.partition);
  job.length = flush.length;
  for (BlockPtr& block : flush.blocks) {
    block->flush_round = id_;
    job.logs.push_back(block->log);
    job.blocks.push_back(std::move(block));
  }
  job.offset = job.shuffle->segments.Allocate(job.dir, job.length);
  flushes_.push_back(std::move(job));
}

void IoRound::AddDirect(RoundContext& ctx, const ShufflePtr& shuffle, const BlockPtr& block) {
  FlushJob job;
  job.shuffle = shuffle;
  job.partition = block->entry.partition;
  job.dir = ctx.layout.DirOfPartition(job.partition);
  job.direct = true;
  job.length = block->bytes().size();
  job.logs.push_back(nullptr);
  block->flush_round = id_;
  job.blocks.push_back(block);
  job.offset = shuffle->segments.Allocate(job.dir, job.length);
  direct_index_[block.get()] = flushes_.size();
  flushes_.push_back(std::move(job));
}

void IoRound::AddCommit(RoundContext& ctx, const std::shared_ptr<CommitWaiter>& waiter,
                        AttemptState* attempt) {
  ShuffleState& shuffle = *waiter->shuffle;
  committing_maps_.insert(std::make_pair(&shuffle, waiter->request.map.value()));
  CommitJob job;
  job.waiter = waiter;
  job.record.handle = shuffle.record.handle;
  job.record.map = waiter->request.map.value();
  job.record.attempt = waiter->request.attempt.value();
  job.record.epoch = ctx.epoch;
  job.record.num_partitions = shuffle.record.num_partitions;
  if (attempt != nullptr) {
    attempt->committing = true;
    for (const auto& [p, total] : attempt->totals) {
      job.record.partitions.push_back(total);
    }
    for (const BlockPtr& block : attempt->small_blocks) {
      if (block->state != BlockState::kDurable) {
        job.log_blocks.push_back(block);
      }
    }
    for (const BlockPtr& block : attempt->direct_blocks) {
      if (auto d = direct_index_.find(block.get()); d != direct_index_.end()) {
        job.direct_jobs.push_back(d->second);
      }
    }
  }
  if (!job.log_blocks.empty()) {
    ReserveLogRegion(ctx, shuffle, job);
  }
  commits_.push_back(std::move(job));
}

void IoRound::ReserveLogRegion(RoundContext& ctx, ShuffleState& shuffle, CommitJob& job) {
  uint64_t length = 0;
  for (const BlockPtr& block : job.log_blocks) {
    length += block->bytes().size();
  }
  const uint64_t handle = shuffle.record.handle;
  CommitLog::Reservation reservation =
      shuffle.log.Reserve(ctx.env, ctx.layout, handle, length, ctx.options.log_file_bytes);
  job.region = std::move(reservation.region);
  job.log_file = reservation.file;
  const uint32_t log_no = job.region->log_no;
  if (reservation.needs_dir_sync &&
      std::none_of(new_log_files_.begin(), new_log_files_.end(), [&](const NewLogFile& f) {
        return f.shuffle == &shuffle && f.log_no == log_no;
      })) {
    new_log_files_.push_back(NewLogFile{.shuffle = &shuffle,
                                        .log_no = log_no,
                                        .dir = ctx.layout.ShuffleDir(shuffle.log.dir(), handle),
                                        .synced = false});
  }
}

// ---- 2. Execute ---------------------------------------------------------------------------

void IoRound::Write(Env& env, IoEngine& io, BufferPool& buffers) {
  if (empty()) {
    return;
  }
  env.CrashPoint(crash_point::kRoundCollected);
  Preallocate();
  writes_ = PrepareWrites(buffers);
  (void)RunToCompletion(io, std::span<IoOp>(writes_.ops), &write_results_);  // per-op results
  for (FlushJob& job : flushes_) {  // written (or failed): the next round may reuse them
    buffers.Give(std::move(job.buffer));
  }
  env.CrashPoint(crash_point::kRoundWritten);
}

void IoRound::RefreshLogs() {
  for (FlushJob& job : flushes_) {
    for (size_t b = 0; b < job.blocks.size(); ++b) {
      job.logs[b] = job.blocks[b]->log;
    }
  }
}

void IoRound::Finish(Env& env, IoEngine& io, Index& index) {
  if (empty()) {
    return;
  }
  Sync(io);
  SyncNewLogDirs(env);
  env.CrashPoint(crash_point::kRoundSynced);
  Record(index);
  env.CrashPoint(crash_point::kRoundIndexed);
}

void IoRound::Preallocate() {
  // Extents of one segment are allocated back to back under the lock, so a round's extents in a
  // file form one range.
  absl::flat_hash_map<File*, std::pair<uint64_t, uint64_t>> ranges;
  for (const FlushJob& job : flushes_) {
    File* file = job.shuffle->segments.file(job.dir).file.get();
    const uint64_t end = job.offset + AlignUp(job.length);
    auto [it, inserted] = ranges.try_emplace(file, job.offset, end);
    if (!inserted) {
      it->second.first = std::min(it->second.first, job.offset);
      it->second.second = std::max(it->second.second, end);
    }
  }
  for (const auto& [file, range] : ranges) {
    const uint64_t length = range.second - range.first;
    absl::Status allocated = file->Allocate(range.first, length);
    if (allocated.ok()) {
      preallocated_bytes_ += length;
      continue;
    }
    ++preallocation_failures_;
    if (!absl::IsUnimplemented(allocated)) {
      SHUFFLE_LOG(WARNING) << "segment preallocation failed; writing without it"
                           << Kv("error", allocated.message());
    }
  }
}

IoRound::WriteBatch IoRound::PrepareWrites(BufferPool& buffers) {
  // Extents (aligned, padded with zeros) and commit-log regions.
  WriteBatch batch;
  for (FlushJob& job : flushes_) {
    const uint64_t padded = AlignUp(job.length);
    job.buffer = buffers.Take(padded);
    size_t at = 0;
    for (const BlockPtr& block : job.blocks) {
      std::memcpy(job.buffer.data() + at, block->bytes().data(), block->bytes().size());
      at += block->bytes().size();
    }
    std::memset(job.buffer.data() + at, 0, padded - at);
    batch.ops.push_back(IoOp{.kind = IoKind::kWrite,
                             .file = job.shuffle->segments.file(job.dir).file.get(),
                             .offset = job.offset,
                             .buffer = job.buffer.data(),
                             .length = padded});
    batch.owner.push_back(&job.status);
    batch.sites.push_back(SyncSite::kExtentData);
  }
  for (CommitJob& job : commits_) {
    if (job.region == nullptr) {
      continue;
    }
    for (const BlockPtr& block : job.log_blocks) {
      job.log_bytes.append(block->bytes());
    }
    batch.ops.push_back(IoOp{.kind = IoKind::kWrite,
                             .file = job.log_file,
                             .offset = job.region->offset,
                             .buffer = job.log_bytes.data(),
                             .length = job.log_bytes.size()});
    batch.owner.push_back(&job.status);
    batch.sites.push_back(SyncSite::kLogData);
  }
  return batch;
}

void IoRound::Sync(IoEngine& io) {
  std::vector<IoOp>& ops = writes_.ops;
  std::vector<absl::Status>& results = write_results_;
  // fdatasync every file that took a successful write; a failed sync fails its writes.
  std::vector<IoOp> syncs;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (results[i].ok() && !SyncRemoved(writes_.sites[i]) &&
        std::none_of(syncs.begin(), syncs.end(),
                     [&](const IoOp& sync) { return sync.file == ops[i].file; })) {
      syncs.push_back(IoOp{.kind = IoKind::kSync, .file = ops[i].file});
    }
  }
  std::vector<absl::Status> sync_results;
  (void)RunToCompletion(io, std::span<IoOp>(syncs), &sync_results);
  for (size_t s = 0; s < syncs.size(); ++s) {
    for (size_t i = 0; i < ops.size() && !sync_results[s].ok(); ++i) {
      if (ops[i].file == syncs[s].file && results[i].ok()) {
        results[i] = sync_results[s];
      }
    }
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    *writes_.owner[i] = results[i];
  }
}

void IoRound::SyncNewLogDirs(Env& env) {
  // A commit whose region lies in a new log file fails when its directory cannot be synced.
  for (NewLogFile& created : new_log_files_) {
    absl::Status synced = SyncDirAt(env, SyncSite::kRotateLogDir, created.dir);
    created.synced = synced.ok();
    for (CommitJob& job : commits_) {
      if (!synced.ok() && job.region != nullptr &&
          job.region->handle == created.shuffle->record.handle &&
          job.region->log_no == created.log_no) {
        job.status.Update(synced);
      }
    }
  }
}

void IoRound::RecordExtents(Index::Batch& batch) {
  for (FlushJob& job : flushes_) {
    if (!job.status.ok()) {
      continue;
    }
    ExtentRecord extent{.handle = job.shuffle->record.handle,
                        .partition = job.partition,
                        .dir = job.dir,
                        .offset = job.offset,
                        .length = job.length,
                        .blocks = {}};
    for (size_t b = 0; b < job.blocks.size(); ++b) {
      extent.blocks.push_back(job.blocks[b]->entry);
      if (job.logs[b] != nullptr) {
        RegionProgress& progress = region_progress_[job.logs[b].get()];
        progress.shuffle = job.shuffle.get();
        ++progress.blocks;
      }
    }
    batch.PutExtent(extent);
  }
  // A region whose last outstanding blocks reached extents goes in the same batch.
  for (auto& [region, progress] : region_progress_) {
    if (region->outstanding == progress.blocks) {
      batch.DeleteLog(region->handle, region->dir, region->log_no, region->offset);
    }
  }
}

void IoRound::Record(Index& index) {
  // One synced index batch for everything that reached the disk.
  Index::Batch batch;
  RecordExtents(batch);
  // Blocks of this round's extents and whether their write succeeded: built once per round (not
  // per commit, which made a round quadratic in its commits and blocks).
  absl::flat_hash_map<PendingBlock*, bool> flushed_ok;
  for (const FlushJob& flush : flushes_) {
    for (const BlockPtr& block : flush.blocks) {
      flushed_ok[block.get()] = flush.status.ok();
    }
  }
  for (CommitJob& job : commits_) {
    RecordCommit(job, flushed_ok, batch);
  }
  if (batch.empty()) {
    return;
  }
  absl::Status indexed = index.Write(batch, /*sync=*/!SyncRemoved(SyncSite::kRoundIndex));
  if (!indexed.ok()) {
    SHUFFLE_LOG(ERROR) << "index write failed; failing the round" << Kv("error", indexed.message());
    for (FlushJob& job : flushes_) {
      job.status.Update(indexed);
    }
    for (CommitJob& job : commits_) {
      job.status.Update(indexed);
    }
    return;
  }
  for (auto& [region, progress] : region_progress_) {
    region->outstanding -= progress.blocks;
  }
}

void IoRound::RecordCommit(CommitJob& job,
                           const absl::flat_hash_map<PendingBlock*, bool>& flushed_ok,
                           Index::Batch& batch) {
  for (size_t d : job.direct_jobs) {
    job.status.Update(flushes_[d].status);
  }
  if (!job.status.ok()) {
    return;
  }
  if (job.region != nullptr) {
    // Blocks that reached an extent in this very round need no log entry.
    LogRecord log{.handle = job.region->handle,
                  .dir = job.region->dir,
                  .log_no = job.region->log_no,
                  .offset = job.region->offset,
                  .length = job.log_bytes.size(),
                  .blocks = {}};
    uint32_t outstanding = 0;
    for (const BlockPtr& block : job.log_blocks) {
      log.blocks.push_back(block->entry);
      auto it = flushed_ok.find(block.get());
      if (it == flushed_ok.end() || !it->second) {
        ++outstanding;
      }
    }
    job.region->outstanding = outstanding;
    if (outstanding > 0) {
      batch.PutLog(log);
      job.put_log = true;
    }
  }
  batch.PutCommit(job.record);
}

// ---- 3. Apply -----------------------------------------------------------------------------

void IoRound::Apply(RoundContext& ctx) {
  for (FlushJob& job : flushes_) {
    ApplyFlush(ctx, job);
  }
  for (CommitJob& job : commits_) {
    ApplyCommit(ctx, job);
  }
  for (const NewLogFile& created : new_log_files_) {
    if (created.synced) {
      created.shuffle->log.DirSynced(created.log_no);
    }
  }
  // Only now, with this round's new regions counted (a commit of this round may have written
  // into a log file that another commit then rotated away from), retire the regions whose
  // blocks all reached extents and delete log files left without live regions.
  RetireRegions(ctx);
  if (!commits_.empty()) {
    ++ctx.stats.commit_rounds;
  }
  ctx.stats.segment_bytes_preallocated += preallocated_bytes_;
  ctx.stats.segment_preallocation_failures += preallocation_failures_;
  for (auto& waiter : resolve_after_) {
    const ShuffleState& shuffle = *waiter->shuffle;
    auto it = shuffle.winners.find(waiter->request.map.value());
    if (it != shuffle.winners.end()) {
      waiter->result = CommitResult{.won = it->second.attempt == waiter->request.attempt.value(),
                                    .winner = it->second};
    } else {
      waiter->result =
          absl::UnavailableError("a concurrent commit of the same map failed; retry the commit");
    }
    waiter->done = true;
  }
}

void IoRound::ApplyFlush(RoundContext& ctx, FlushJob& job) {
  ShuffleState& shuffle = *job.shuffle;
  if (job.status.ok()) {
    for (BlockPtr& block : job.blocks) {
      ctx.buffers.Release(*block);
      block->log = nullptr;
    }
    ++ctx.stats.extents_written;
    ctx.stats.bytes_written += AlignUp(job.length);
    shuffle.segments.Written(job.dir, AlignUp(job.length));
    return;
  }
  SHUFFLE_LOG(WARNING) << "extent write failed" << Kv("shuffle", DescribeShuffle(shuffle))
                       << Kv("partition", job.partition) << Kv("error", job.status.message());
  if (!job.direct) {
    // Back into memory; retried after a pause.
    ctx.buffers.Restore(job.shuffle, job.partition, std::move(job.blocks), job.status);
    return;
  }
  const BlockEntry& e = job.blocks[0]->entry;
  auto it = shuffle.attempts.find(AttemptKey(e.map, e.attempt));
  if (it != shuffle.attempts.end() && it->second.failure.ok()) {
    it->second.failure =
        core::Annotate(job.status, absl::StrCat("shuffle ", DescribeShuffle(shuffle), " map ",
                                                e.map, " attempt ", e.attempt, " aborted"));
  }
  ctx.buffers.Release(*job.blocks[0]);
}

void IoRound::ApplyCommit(RoundContext& ctx, CommitJob& job) {
  ShuffleState& shuffle = *job.waiter->shuffle;
  const uint64_t key = AttemptKey(job.record.map, job.record.attempt);
  job.waiter->done = true;
  if (job.region != nullptr) {
    shuffle.log.Unreserve(job.region->log_no);
  }
  if (!job.status.ok()) {
    auto it = shuffle.attempts.find(key);
    if (it != shuffle.attempts.end()) {
      it->second.failure = job.status;
      it->second.committing = false;
    }
    job.waiter->result = core::Annotate(
        job.status, absl::StrCat("commit of shuffle ", DescribeShuffle(shuffle), " map ",
                                 job.record.map, " attempt ", job.record.attempt));
    return;
  }
  if (job.put_log) {
    shuffle.log.Committed(*job.region, job.log_bytes.size());
    for (const BlockPtr& block : job.log_blocks) {
      // Not in a durable extent yet: in memory, or being written by the next round (which
      // takes the region in RefreshLogs).
      if (block->state != BlockState::kDurable) {
        block->log = job.region;
      }
    }
  } else if (job.region != nullptr) {
    shuffle.log.Written(job.region->log_no, job.log_bytes.size());
  }
  if (job.region != nullptr) {
    ctx.stats.log_bytes_written += job.log_bytes.size();
    ctx.stats.bytes_written += job.log_bytes.size();
  }
  shuffle.winners[job.record.map] = job.record;
  shuffle.attempts.erase(key);
  ++ctx.stats.commits;
  job.waiter->result = CommitResult{.won = true, .winner = job.record};
}

void IoRound::RetireRegions(RoundContext& ctx) {
  absl::flat_hash_set<ShuffleState*> touched;
  for (auto& [region, progress] : region_progress_) {
    if (region->outstanding == 0) {
      progress.shuffle->log.Retired(*region);
      touched.insert(progress.shuffle);
    }
  }
  for (CommitJob& job : commits_) {
    touched.insert(job.waiter->shuffle.get());  // it may have rotated its log
  }
  for (ShuffleState* shuffle : touched) {
    if (shuffle->removed) {
      continue;
    }
    const uint64_t handle = shuffle->record.handle;
    for (uint32_t log_no : shuffle->log.TakeDeadFiles()) {
      (void)ctx.env.RemoveFile(ctx.layout.LogPath(shuffle->log.dir(), handle, log_no));
    }
  }
}

}  // namespace shuffle::storage
