// Collecting an I/O round (under the engine's mutex): which partition buffers to flush (full,
// requested, or the largest under memory pressure), the queued large blocks, and the commits,
// each checked against what the server holds for its attempt.
#include <algorithm>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/io_round.h"

namespace shuffle::storage {
namespace {

// Takes the in-memory blocks of one partition buffer into a flush job. REQUIRES: mu held.
void TakeBuffer(const ShufflePtr& shuffle, uint32_t partition, size_t ndirs, IoRound& round) {
  PartitionBuffer& buffer = shuffle->partitions[partition];
  FlushJob job;
  job.shuffle = shuffle;
  job.partition = partition;
  job.dir = static_cast<uint32_t>(partition % ndirs);
  for (BlockPtr& block : buffer.blocks) {
    block->state = BlockState::kFlushing;
    job.length += block->bytes.size();
    job.logs.push_back(block->log);
    job.blocks.push_back(std::move(block));
  }
  buffer.blocks.clear();
  buffer.bytes = 0;
  buffer.flush_requested = false;
  SegmentFile& segment = shuffle->segments[job.dir];
  job.offset = segment.next_offset;
  segment.next_offset += AlignUp(job.length);
  round.flushes.push_back(std::move(job));
}

}  // namespace

void StorageEngine::Impl::CollectRound(IoRound& round) {
  CollectFlushes(round);
  CollectDirectBlocks(round);
  CollectCommits(round);
}

void StorageEngine::Impl::CollectFlushes(IoRound& round) {
  const size_t ndirs = options.data_dirs.size();
  const bool flush_allowed = absl::Now() >= flush_backoff_until;
  // 1. Partition buffers: full ones, requested ones, and under memory pressure the largest.
  if (flush_allowed) {
    std::vector<std::pair<ShufflePtr, uint32_t>> queue;
    queue.swap(flush_queue);
    for (auto& [shuffle, p] : queue) {
      PartitionBuffer& buffer = shuffle->partitions[p];
      buffer.queued = false;
      if (shuffle->removed || buffer.blocks.empty()) {
        continue;
      }
      if (buffer.bytes >= options.extent_bytes || buffer.flush_requested) {
        TakeBuffer(shuffle, p, ndirs, round);
      }
    }
    if (pressure || memory_bytes > options.memory_budget_bytes / 4 * 3) {
      std::vector<std::tuple<uint64_t, ShufflePtr, uint32_t>> candidates;
      for (auto& [key, shuffle] : shuffles) {
        for (uint32_t p = 0; p < shuffle->partitions.size(); ++p) {
          if (!shuffle->partitions[p].blocks.empty()) {
            candidates.emplace_back(shuffle->partitions[p].bytes, shuffle, p);
          }
        }
      }
      std::sort(candidates.begin(), candidates.end(),
                [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
      uint64_t in_flight = 0;
      for (const FlushJob& job : round.flushes) {
        in_flight += job.length;
      }
      for (auto& [bytes, shuffle, p] : candidates) {
        if (memory_bytes - in_flight <= options.memory_budget_bytes / 2) {
          break;
        }
        in_flight += bytes;
        TakeBuffer(shuffle, p, ndirs, round);
      }
    }
  }
  pressure = false;
}

void StorageEngine::Impl::CollectDirectBlocks(IoRound& round) {
  const size_t ndirs = options.data_dirs.size();
  // 2. Large blocks, each its own extent.
  for (auto& [shuffle, block] : direct_queue) {
    if (shuffle->removed || block->state == BlockState::kDurable) {
      continue;
    }
    FlushJob job;
    job.shuffle = shuffle;
    job.partition = block->entry.partition;
    job.dir = static_cast<uint32_t>(job.partition % ndirs);
    job.direct = true;
    job.length = block->bytes.size();
    block->state = BlockState::kFlushing;
    job.logs.push_back(nullptr);
    job.blocks.push_back(block);
    SegmentFile& segment = shuffle->segments[job.dir];
    job.offset = segment.next_offset;
    segment.next_offset += AlignUp(job.length);
    round.direct_index[block.get()] = round.flushes.size();
    round.flushes.push_back(std::move(job));
  }
  direct_queue.clear();
}

void StorageEngine::Impl::CollectCommits(IoRound& round) {
  // 3. Commits.
  absl::flat_hash_map<ShuffleState*, std::set<uint32_t>> committing_maps;
  std::vector<std::shared_ptr<CommitWaiter>> waiters;
  waiters.swap(pending_commits);
  for (auto& waiter : waiters) {
    ShuffleState& shuffle = *waiter->shuffle;
    const CommitRequest& req = waiter->request;
    const uint32_t map = req.map.value();
    const uint32_t attempt = req.attempt.value();
    auto finish = [&](absl::StatusOr<CommitResult> result) {
      waiter->result = std::move(result);
      waiter->done = true;
    };
    const std::string what =
        absl::StrCat("shuffle ", DescribeShuffle(shuffle), " map ", map, " attempt ", attempt);
    if (shuffle.removed) {
      finish(absl::NotFoundError(absl::StrCat(what, ": shuffle was removed")));
      continue;
    }
    if (auto it = shuffle.winners.find(map); it != shuffle.winners.end()) {
      finish(CommitResult{.won = it->second.attempt == attempt, .winner = it->second});
      continue;
    }
    if (committing_maps[&shuffle].count(map) > 0) {
      round.resolve_after.push_back(waiter);
      continue;
    }
    if (req.num_partitions != shuffle.record.num_partitions) {
      finish(absl::InvalidArgumentError(absl::StrCat(what, ": commit names ", req.num_partitions,
                                                     " partitions, the shuffle has ",
                                                     shuffle.record.num_partitions)));
      continue;
    }
    auto attempt_it = shuffle.attempts.find(AttemptKey(map, attempt));
    AttemptState* state = attempt_it == shuffle.attempts.end() ? nullptr : &attempt_it->second;
    const uint64_t have_blocks = state == nullptr ? 0 : state->blocks;
    const uint64_t have_bytes = state == nullptr ? 0 : state->bytes;
    if (state != nullptr && !state->failure.ok()) {
      finish(state->failure);
      continue;
    }
    if (state != nullptr && state->committing) {
      finish(absl::FailedPreconditionError(absl::StrCat(what, " is already committing")));
      continue;
    }
    if (have_blocks != req.expected_blocks || have_bytes != req.expected_bytes) {
      finish(absl::AbortedError(absl::StrCat(
          what, ": the server holds ", have_blocks, " blocks (", have_bytes,
          " bytes) of this attempt, the client pushed ", req.expected_blocks, " (",
          req.expected_bytes,
          " bytes); pushes were lost (server restart?): rerun the map as a new attempt")));
      continue;
    }
    CommitJob job;
    job.waiter = waiter;
    job.record.handle = shuffle.record.handle;
    job.record.map = map;
    job.record.attempt = attempt;
    job.record.epoch = epoch;
    job.record.num_partitions = shuffle.record.num_partitions;
    if (state != nullptr) {
      state->committing = true;
      for (const auto& [p, total] : state->totals) {
        job.record.partitions.push_back(total);
      }
      for (const BlockPtr& block : state->small_blocks) {
        if (block->state != BlockState::kDurable) {
          job.log_blocks.push_back(block);
        }
      }
      for (const BlockPtr& block : state->direct_blocks) {
        if (auto d = round.direct_index.find(block.get()); d != round.direct_index.end()) {
          job.direct_jobs.push_back(d->second);
        }
      }
    }
    if (!job.log_blocks.empty()) {
      uint64_t length = 0;
      for (const BlockPtr& block : job.log_blocks) {
        length += block->bytes.size();
      }
      if (shuffle.log_offset > 0 && shuffle.log_offset + length > options.log_file_bytes) {
        const uint32_t next = shuffle.log_no + 1;
        absl::StatusOr<std::unique_ptr<File>> file =
            env->OpenFile(LogPath(shuffle.log_dir, shuffle.record.handle, next), {.create = true});
        if (file.ok()) {
          shuffle.log_files[next] = std::move(*file);
          shuffle.log_no = next;
          shuffle.log_offset = 0;
          round.new_log_files.push_back(NewLogFile{
              .handle = shuffle.record.handle,
              .log_no = next,
              .dir = ShuffleDir(shuffle.log_dir, shuffle.record.handle)});
          env->CrashPoint(crash_point::kLogRotated);
        }  // else: keep appending to the current log
      }
      job.region = std::make_shared<LogRegion>();
      job.region->handle = shuffle.record.handle;
      job.region->dir = shuffle.log_dir;
      job.region->log_no = shuffle.log_no;
      job.region->offset = shuffle.log_offset;
      job.log_file = shuffle.log_files[shuffle.log_no].get();
      shuffle.log_offset += length;
    }
    committing_maps[&shuffle].insert(map);
    round.commits.push_back(std::move(job));
  }
}

}  // namespace shuffle::storage
