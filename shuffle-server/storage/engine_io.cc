// The I/O thread: each round collects the queued flushes, large blocks and commits under `mu`,
// writes them without it (one io_uring batch of writes, one of fdatasyncs), records them in one
// synced index batch, then applies the outcome under `mu`. This is the group commit: every commit
// waiting when a round starts shares its fdatasyncs and WAL sync.
#include <algorithm>
#include <cstring>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/aligned_buffer.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/io_round.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

using core::Kv;

bool StorageEngine::Impl::HasWork() const {
  return !pending_commits.empty() || !direct_queue.empty() || pressure ||
         (!flush_queue.empty() && absl::Now() >= flush_backoff_until);
}

void StorageEngine::Impl::RefreshDiskSpace() {
  std::vector<DiskSpace> space(options.data_dirs.size());
  for (size_t d = 0; d < options.data_dirs.size(); ++d) {
    absl::StatusOr<DiskSpace> s = env->GetDiskSpace(options.data_dirs[d]);
    if (s.ok()) {
      space[d] = *s;
    } else {
      SHUFFLE_LOG(WARNING) << "cannot read free space" << Kv("dir", options.data_dirs[d])
                           << Kv("error", s.status().message());
    }
  }
  absl::MutexLock lock(&mu);
  disk_space = std::move(space);
}

void StorageEngine::Impl::IoLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      while (!HasWork() && !stopping) {
        work_cv.WaitWithTimeout(&mu, absl::Milliseconds(200));
        if (absl::Now() - disk_space_refreshed > absl::Milliseconds(500)) {
          break;
        }
      }
      if (stopping && pending_commits.empty()) {
        return;
      }
    }
    if (absl::Now() - disk_space_refreshed > absl::Milliseconds(200)) {
      RefreshDiskSpace();
      disk_space_refreshed = absl::Now();
    }
    absl::MutexLock io_lock(&io_mu);
    IoRound round;
    {
      absl::MutexLock lock(&mu);
      ++rounds_started;
      CollectRound(round);
    }
    ExecuteRound(round);
    {
      absl::MutexLock lock(&mu);
      ApplyRound(round);
      ++rounds_completed;
      round_cv.SignalAll();
    }
    if (!round.flushes.empty() || !round.commits.empty()) {
      env->CrashPoint(crash_point::kRoundApplied);
    }
  }
}

void StorageEngine::Impl::ExecuteRound(IoRound& round) {
  if (round.flushes.empty() && round.commits.empty()) {
    return;
  }
  env->CrashPoint(crash_point::kRoundCollected);
  WriteAndSync(round);
  RecordInIndex(round);
  env->CrashPoint(crash_point::kRoundIndexed);
}

void StorageEngine::Impl::WriteAndSync(IoRound& round) {
  // 1. Writes: extents (aligned, padded) and commit-log regions, one batch.
  std::vector<IoOp> ops;
  std::vector<std::pair<bool, size_t>> owner;  // (is_flush, job index) per op
  for (size_t i = 0; i < round.flushes.size(); ++i) {
    FlushJob& job = round.flushes[i];
    job.buffer = AlignedBuffer(AlignUp(job.length));
    size_t at = 0;
    for (const BlockPtr& block : job.blocks) {
      std::memcpy(job.buffer.data() + at, block->bytes.data(), block->bytes.size());
      at += block->bytes.size();
    }
    File* file = job.shuffle->segments[job.dir].file.get();
    ops.push_back(IoOp{.kind = IoKind::kWrite,
                       .file = file,
                       .offset = job.offset,
                       .buffer = job.buffer.data(),
                       .length = job.buffer.size()});
    owner.emplace_back(true, i);
  }
  for (size_t i = 0; i < round.commits.size(); ++i) {
    CommitJob& job = round.commits[i];
    if (job.region == nullptr) {
      continue;
    }
    for (const BlockPtr& block : job.log_blocks) {
      job.log_bytes.append(block->bytes);
    }
    ops.push_back(IoOp{.kind = IoKind::kWrite,
                       .file = job.log_file,
                       .offset = job.region->offset,
                       .buffer = job.log_bytes.data(),
                       .length = job.log_bytes.size()});
    owner.emplace_back(false, i);
  }
  std::vector<absl::Status> results;
  absl::Status engine_status = RunToCompletion(*io_engine, std::span<IoOp>(ops), &results);
  (void)engine_status;  // per-op results carry every failure
  env->CrashPoint(crash_point::kRoundWritten);
  // 2. fdatasync every file that took a successful write; a failed sync fails its writes.
  std::vector<File*> files;
  for (size_t i = 0; i < ops.size(); ++i) {
    const SyncSite site = owner[i].first ? SyncSite::kExtentData : SyncSite::kLogData;
    if (results[i].ok() && !SyncRemoved(site) &&
        std::find(files.begin(), files.end(), ops[i].file) == files.end()) {
      files.push_back(ops[i].file);
    }
  }
  std::vector<IoOp> syncs;
  syncs.reserve(files.size());
  for (File* file : files) {
    syncs.push_back(IoOp{.kind = IoKind::kSync, .file = file});
  }
  std::vector<absl::Status> sync_results;
  (void)RunToCompletion(*io_engine, std::span<IoOp>(syncs), &sync_results);
  for (size_t s = 0; s < syncs.size(); ++s) {
    if (sync_results[s].ok()) {
      continue;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].file == syncs[s].file && results[i].ok()) {
        results[i] = sync_results[s];
      }
    }
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (owner[i].first) {
      round.flushes[owner[i].second].status = results[i];
    } else {
      round.commits[owner[i].second].status = results[i];
    }
  }
  // 3. A log file a rotation created is named by the index only once its directory entry is
  // durable: a commit whose region lies in it fails when that directory cannot be synced.
  for (const NewLogFile& created : round.new_log_files) {
    absl::Status synced = SyncDirAt(SyncSite::kRotateLogDir, created.dir);
    if (synced.ok()) {
      continue;
    }
    for (CommitJob& job : round.commits) {
      if (job.region != nullptr && job.region->handle == created.handle &&
          job.region->log_no == created.log_no && job.status.ok()) {
        job.status = synced;
      }
    }
  }
  env->CrashPoint(crash_point::kRoundSynced);
}

void StorageEngine::Impl::RecordInIndex(IoRound& round) {
  // 4. One synced index batch for everything that reached the disk.
  Index::Batch batch;
  for (FlushJob& job : round.flushes) {
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
        ++round.region_decrements[job.logs[b].get()];
      }
    }
    batch.PutExtent(extent);
  }
  for (auto& [region, decrement] : round.region_decrements) {
    if (region->outstanding == decrement) {
      batch.DeleteLog(region->handle, region->dir, region->log_no, region->offset);
    }
  }
  // Blocks of this round's extents and whether their write succeeded: built once per round (not
  // per commit, which made a round quadratic in its commits and blocks).
  absl::flat_hash_map<PendingBlock*, bool> flushed_ok;
  for (const FlushJob& flush : round.flushes) {
    for (const BlockPtr& block : flush.blocks) {
      flushed_ok[block.get()] = flush.status.ok();
    }
  }
  for (CommitJob& job : round.commits) {
    for (size_t d : job.direct_jobs) {
      if (job.status.ok() && !round.flushes[d].status.ok()) {
        job.status = round.flushes[d].status;
      }
    }
    if (!job.status.ok()) {
      continue;
    }
    if (job.region != nullptr) {
      // Blocks that reached an extent in this very round need no log entry.
      LogRecord log{.handle = job.region->handle,
                    .dir = job.region->dir,
                    .log_no = job.region->log_no,
                    .offset = job.region->offset,
                    .length = job.log_bytes.size(),
                    .blocks = {}};
      for (const BlockPtr& block : job.log_blocks) {
        log.blocks.push_back(block->entry);
      }
      uint32_t outstanding = 0;
      for (const BlockPtr& block : job.log_blocks) {
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
  if (batch.empty()) {
    return;
  }
  absl::Status indexed = index->Write(batch, /*sync=*/!SyncRemoved(SyncSite::kRoundIndex));
  if (!indexed.ok()) {
    SHUFFLE_LOG(ERROR) << "index write failed; failing the round" << Kv("error", indexed.message());
    for (FlushJob& job : round.flushes) {
      if (job.status.ok()) {
        job.status = indexed;
      }
    }
    for (CommitJob& job : round.commits) {
      if (job.status.ok()) {
        job.status = indexed;
      }
    }
    return;
  }
  for (auto& [region, decrement] : round.region_decrements) {
    region->outstanding -= decrement;
  }
}

void StorageEngine::Impl::RemoveDeadLogFiles(ShuffleState& shuffle) {
  if (shuffle.removed) {
    return;
  }
  // A log file other than the current one gets no new regions: once none of its regions is
  // live (the last one may have died while it was still current), nothing needs it.
  std::vector<uint32_t> dead;
  for (const auto& [log_no, file] : shuffle.log_files) {
    auto live = shuffle.live_regions.find(log_no);
    if (log_no != shuffle.log_no && (live == shuffle.live_regions.end() || live->second == 0)) {
      dead.push_back(log_no);
    }
  }
  for (uint32_t log_no : dead) {
    shuffle.live_regions.erase(log_no);
    shuffle.ForgetLogFile(log_no);
    (void)env->RemoveFile(LogPath(shuffle.log_dir, shuffle.record.handle, log_no));
  }
}

void StorageEngine::Impl::ApplyRound(IoRound& round) {
  // Extents.
  for (FlushJob& job : round.flushes) {
    ShuffleState& shuffle = *job.shuffle;
    if (job.status.ok()) {
      for (BlockPtr& block : job.blocks) {
        DropBlock(*block);
        block->log = nullptr;
      }
      ++stats.extents_written;
      stats.bytes_written += job.buffer.size();
      shuffle.dir_bytes[job.dir] += job.buffer.size();
      continue;
    }
    SHUFFLE_LOG(WARNING) << "extent write failed" << Kv("shuffle", DescribeShuffle(shuffle))
                         << Kv("partition", job.partition) << Kv("error", job.status.message());
    if (job.direct) {
      const BlockEntry& e = job.blocks[0]->entry;
      auto it = shuffle.attempts.find(AttemptKey(e.map, e.attempt));
      if (it != shuffle.attempts.end() && it->second.failure.ok()) {
        it->second.failure =
            core::Annotate(job.status, absl::StrCat("shuffle ", DescribeShuffle(shuffle), " map ",
                                                    e.map, " attempt ", e.attempt, " aborted"));
      }
      DropBlock(*job.blocks[0]);
      continue;
    }
    // Back into memory; retried after a pause.
    last_flush_error = job.status;
    flush_backoff_until = absl::Now() + absl::Milliseconds(200);
    PartitionBuffer& buffer = shuffle.partitions[job.partition];
    if (shuffle.removed) {
      for (BlockPtr& block : job.blocks) {
        DropBlock(*block);
      }
      continue;
    }
    for (BlockPtr& block : job.blocks) {
      block->state = BlockState::kInMemory;
      buffer.bytes += block->bytes.size();
    }
    buffer.blocks.insert(buffer.blocks.begin(), job.blocks.begin(), job.blocks.end());
    if (!buffer.queued) {
      buffer.queued = true;
      flush_queue.emplace_back(job.shuffle, job.partition);
    }
  }
  // Commits.
  for (CommitJob& job : round.commits) {
    ShuffleState& shuffle = *job.waiter->shuffle;
    const uint64_t key = AttemptKey(job.record.map, job.record.attempt);
    if (job.status.ok()) {
      if (job.put_log) {
        ++shuffle.live_regions[job.region->log_no];
        for (const BlockPtr& block : job.log_blocks) {
          if (block->state == BlockState::kInMemory) {
            block->log = job.region;
          }
        }
      }
      if (job.region != nullptr) {
        stats.log_bytes_written += job.log_bytes.size();
        stats.bytes_written += job.log_bytes.size();
        shuffle.AddLogBytes(job.region->log_no, job.log_bytes.size());
      }
      shuffle.winners[job.record.map] = job.record;
      shuffle.attempts.erase(key);
      ++stats.commits;
      job.waiter->result = CommitResult{.won = true, .winner = job.record};
    } else {
      auto it = shuffle.attempts.find(key);
      if (it != shuffle.attempts.end()) {
        it->second.failure = job.status;
        it->second.committing = false;
      }
      job.waiter->result = core::Annotate(
          job.status, absl::StrCat("commit of shuffle ", DescribeShuffle(shuffle), " map ",
                                   job.record.map, " attempt ", job.record.attempt));
    }
    job.waiter->done = true;
  }
  // Only now, with this round's new regions counted (a commit of this round may have written
  // into a log file that another commit then rotated away from), retire the regions whose
  // blocks all reached extents and delete log files left without live regions.
  absl::flat_hash_set<ShuffleState*> touched;
  for (auto& [region, decrement] : round.region_decrements) {
    if (region->outstanding != 0) {
      continue;
    }
    for (FlushJob& job : round.flushes) {
      if (job.shuffle->record.handle == region->handle) {
        uint32_t& live = job.shuffle->live_regions[region->log_no];
        live -= live > 0 ? 1 : 0;
        touched.insert(job.shuffle.get());
        break;
      }
    }
  }
  for (CommitJob& job : round.commits) {
    touched.insert(job.waiter->shuffle.get());  // it may have rotated its log
  }
  for (ShuffleState* shuffle : touched) {
    RemoveDeadLogFiles(*shuffle);
  }
  if (!round.commits.empty()) {
    ++stats.commit_rounds;
  }
  for (auto& waiter : round.resolve_after) {
    ShuffleState& shuffle = *waiter->shuffle;
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

}  // namespace shuffle::storage
