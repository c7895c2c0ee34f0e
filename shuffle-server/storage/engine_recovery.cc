// Start-up recovery: bump the epoch, reload shuffles and winners, cut segment tails past the last
// indexed extent, replay the commit-log regions that are still live into memory (skipping blocks
// that already reached an extent), delete log files and shuffle directories nothing refers to.
#include <algorithm>
#include <chrono>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle/core/block.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {
namespace {

using core::Kv;
using BlockIdentity = std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>;  // map attempt epoch seq

BlockIdentity IdentityOf(const BlockEntry& b) { return {b.map, b.attempt, b.epoch, b.seq}; }

}  // namespace

absl::Status StorageEngine::Impl::Recover(RecoveryReport* report) {
  const auto start = std::chrono::steady_clock::now();
  SHUFFLE_ASSIGN_OR_RETURN(uint32_t last_epoch, index->LoadEpoch());
  epoch = last_epoch + 1;
  {
    Index::Batch batch;
    batch.PutEpoch(epoch);
    SHUFFLE_RETURN_IF_ERROR(index->Write(batch, /*sync=*/!SyncRemoved(SyncSite::kRecoveryIndex)));
  }
  env->CrashPoint(crash_point::kRecoveryEpoch);
  SHUFFLE_ASSIGN_OR_RETURN(uint64_t stored_next_handle, index->LoadNextHandle());
  std::vector<ShufflePtr> recovered;
  SHUFFLE_RETURN_IF_ERROR(index->ForEachShuffle([&](const ShuffleRecord& record) {
    auto shuffle = std::make_shared<ShuffleState>();
    shuffle->record = record;
    shuffle->partitions.resize(record.num_partitions);
    recovered.push_back(std::move(shuffle));
    return absl::OkStatus();
  }));
  absl::flat_hash_set<uint64_t> handles;
  uint64_t max_handle = 0;
  Index::Batch cleanup;
  for (const ShufflePtr& shuffle : recovered) {
    SHUFFLE_RETURN_IF_ERROR(RecoverShuffle(*shuffle, cleanup, report));
    env->CrashPoint(crash_point::kRecoveryShuffle);
    handles.insert(shuffle->record.handle);
    max_handle = std::max(max_handle, shuffle->record.handle);
  }
  if (!cleanup.empty()) {
    SHUFFLE_RETURN_IF_ERROR(index->Write(cleanup, /*sync=*/true));
  }
  // Shuffle directories the index does not know: a removal or registration cut short.
  for (size_t d = 0; d < options.data_dirs.size(); ++d) {
    const std::string root = options.data_dirs[d] + "/shuffles";
    SHUFFLE_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(root));
    for (const std::string& name : names) {
      uint64_t handle = 0;
      if (absl::SimpleAtoi(name, &handle) && handles.contains(handle)) {
        continue;
      }
      SHUFFLE_RETURN_IF_ERROR(env->RemoveAll(absl::StrCat(root, "/", name)));
      ++report->orphan_dirs_removed;
    }
  }
  {
    absl::MutexLock lock(&mu);
    next_handle = std::max({stored_next_handle, max_handle + 1, uint64_t{1}});
    for (ShufflePtr& shuffle : recovered) {
      ShuffleKey key{core::AppId(shuffle->record.app_id),
                     core::ShuffleId(shuffle->record.shuffle_id)};
      for (uint32_t p = 0; p < shuffle->partitions.size(); ++p) {
        PartitionBuffer& buffer = shuffle->partitions[p];
        for (const BlockPtr& block : buffer.blocks) {
          memory_bytes += block->bytes.size();
        }
        if (!buffer.blocks.empty()) {  // write replayed blocks into extents soon
          buffer.queued = true;
          buffer.flush_requested = true;
          flush_queue.emplace_back(shuffle, p);
        }
      }
      namespace_bytes[shuffle->record.namespace_name] += shuffle->stored_bytes;
      shuffles[key] = std::move(shuffle);
    }
  }
  report->epoch = epoch;
  report->shuffles = recovered.size();
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SHUFFLE_LOG(INFO) << "storage recovered" << Kv("epoch", epoch) << Kv("shuffles", report->shuffles)
                    << Kv("commits", report->commits) << Kv("extents", report->extents)
                    << Kv("blocks", report->extent_blocks)
                    << Kv("log_regions_replayed", report->log_regions_replayed)
                    << Kv("log_blocks_replayed", report->log_blocks_replayed)
                    << Kv("corrupt_log_blocks", report->corrupt_log_blocks)
                    << Kv("bytes_truncated", report->bytes_truncated)
                    << Kv("orphan_dirs_removed", report->orphan_dirs_removed)
                    << Kv("seconds", report->seconds);
  return absl::OkStatus();
}

absl::Status StorageEngine::Impl::RecoverShuffle(ShuffleState& shuffle, Index::Batch& cleanup,
                                                 RecoveryReport* report) {
  const uint64_t handle = shuffle.record.handle;
  const size_t ndirs = options.data_dirs.size();
  SHUFFLE_RETURN_IF_ERROR(index->ForEachCommit(handle, [&](const CommitRecord& record) {
    shuffle.winners[record.map] = record;
    for (const PartitionTotal& total : record.partitions) {
      shuffle.stored_bytes += total.bytes;
    }
    ++report->commits;
    return absl::OkStatus();
  }));
  std::vector<LogRecord> logs;
  SHUFFLE_RETURN_IF_ERROR(index->ForEachLog(handle, [&](const LogRecord& record) {
    logs.push_back(record);
    return absl::OkStatus();
  }));
  absl::flat_hash_set<std::tuple<uint32_t, uint32_t, uint32_t>> logged_attempts;
  for (const LogRecord& log : logs) {
    for (const BlockEntry& b : log.blocks) {
      logged_attempts.insert({b.map, b.attempt, b.epoch});
    }
  }
  absl::flat_hash_set<BlockIdentity> in_extents;
  std::vector<uint64_t> max_end(ndirs, 0);
  SHUFFLE_RETURN_IF_ERROR(index->ForEachExtent(handle, [&](const ExtentRecord& extent) {
    ++report->extents;
    report->extent_blocks += extent.blocks.size();
    if (extent.dir < ndirs) {
      max_end[extent.dir] = std::max(max_end[extent.dir], extent.offset + AlignUp(extent.length));
    }
    if (!logged_attempts.empty()) {
      for (const BlockEntry& b : extent.blocks) {
        if (logged_attempts.contains(std::make_tuple(b.map, b.attempt, b.epoch))) {
          in_extents.insert(IdentityOf(b));
        }
      }
    }
    return absl::OkStatus();
  }));
  // Segment files: everything past the last indexed extent was never acknowledged.
  shuffle.segments.resize(ndirs);
  shuffle.dir_bytes.assign(ndirs, 0);
  for (uint32_t d = 0; d < ndirs; ++d) {
    SHUFFLE_RETURN_IF_ERROR(env->CreateDirs(ShuffleDir(d, handle)));
    SHUFFLE_RETURN_IF_ERROR(OpenSegment(shuffle, d));
    SHUFFLE_ASSIGN_OR_RETURN(uint64_t size, shuffle.segments[d].file->Size());
    if (size > max_end[d]) {
      SHUFFLE_RETURN_IF_ERROR(shuffle.segments[d].file->Truncate(max_end[d]));
      report->bytes_truncated += size - max_end[d];
    } else if (size < max_end[d]) {
      SHUFFLE_LOG(ERROR) << "segment file is shorter than its index says; data was lost below "
                            "the storage engine"
                         << Kv("path", SegmentPath(d, handle)) << Kv("size", size)
                         << Kv("indexed_end", max_end[d]);
    }
    shuffle.segments[d].next_offset = max_end[d];
    shuffle.dir_bytes[d] = max_end[d];
  }
  // Commit logs: replay live regions.
  shuffle.log_dir = static_cast<uint32_t>(handle % ndirs);
  std::map<uint32_t, uint64_t> log_end;  // log_no -> end of its last live region
  for (const LogRecord& log : logs) {
    if (!shuffle.log_files.contains(log.log_no)) {
      SHUFFLE_ASSIGN_OR_RETURN(
          shuffle.log_files[log.log_no],
          env->OpenFile(LogPath(log.dir, handle, log.log_no), {.create = false}));
    }
    std::string region(log.length, '\0');
    IoOp op{.kind = IoKind::kRead,
            .file = shuffle.log_files[log.log_no].get(),
            .offset = log.offset,
            .buffer = region.data(),
            .length = region.size()};
    SHUFFLE_RETURN_IF_ERROR(RunToCompletion(*io_engine, std::span<IoOp>(&op, 1)));
    auto live = std::make_shared<LogRegion>();
    live->handle = handle;
    live->dir = log.dir;
    live->log_no = log.log_no;
    live->offset = log.offset;
    uint64_t at = 0;
    for (const BlockEntry& entry : log.blocks) {
      std::string_view bytes(region.data() + at, std::min<uint64_t>(entry.length, log.length - at));
      at += entry.length;
      if (in_extents.contains(IdentityOf(entry))) {
        ++report->log_blocks_already_in_extents;
        continue;
      }
      if (absl::Status st = core::VerifyBlock(bytes);
          !st.ok() || entry.partition >= shuffle.partitions.size()) {
        ++report->corrupt_log_blocks;
        SHUFFLE_LOG(ERROR) << "corrupt block in commit log" << Kv("shuffle", handle)
                           << Kv("map", entry.map) << Kv("attempt", entry.attempt)
                           << Kv("partition", entry.partition) << Kv("error", st.message());
        continue;
      }
      auto block = std::make_shared<PendingBlock>();
      block->entry = entry;
      block->bytes.assign(bytes.data(), bytes.size());
      block->log = live;
      PartitionBuffer& buffer = shuffle.partitions[entry.partition];
      buffer.bytes += bytes.size();
      buffer.blocks.push_back(std::move(block));
      ++live->outstanding;
      ++report->log_blocks_replayed;
    }
    if (live->outstanding == 0) {
      cleanup.DeleteLog(handle, log.dir, log.log_no, log.offset);
      continue;
    }
    ++report->log_regions_replayed;
    ++shuffle.live_regions[log.log_no];
    log_end[log.log_no] = std::max(log_end[log.log_no], log.offset + log.length);
  }
  // The index must stop naming regions before any file they lie in is deleted or cut, or a
  // crash in between would leave records pointing at nothing.
  if (!cleanup.empty()) {
    SHUFFLE_RETURN_IF_ERROR(index->Write(cleanup, /*sync=*/!SyncRemoved(SyncSite::kRecoveryIndex)));
    cleanup.Clear();
  }
  // Log files: cut tails, delete the ones without live regions, start a new one.
  const std::string log_dir_path = ShuffleDir(shuffle.log_dir, handle);
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(log_dir_path));
  uint32_t max_log_no = 0;
  for (const std::string& name : names) {
    uint32_t log_no = 0;
    if (!absl::StartsWith(name, "commit-") || !absl::EndsWith(name, ".log") ||
        !absl::SimpleAtoi(name.substr(7, name.size() - 11), &log_no)) {
      continue;
    }
    max_log_no = std::max(max_log_no, log_no);
    auto end = log_end.find(log_no);
    if (end == log_end.end()) {
      shuffle.ForgetLogFile(log_no);
      SHUFFLE_RETURN_IF_ERROR(env->RemoveFile(absl::StrCat(log_dir_path, "/", name)));
      continue;
    }
    File* file = shuffle.log_files[log_no].get();
    SHUFFLE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
    if (size > end->second) {
      SHUFFLE_RETURN_IF_ERROR(file->Truncate(end->second));
      report->bytes_truncated += size - end->second;
    }
    shuffle.AddLogBytes(log_no, end->second);
  }
  shuffle.log_no = max_log_no + 1;
  shuffle.log_offset = 0;
  SHUFFLE_ASSIGN_OR_RETURN(
      shuffle.log_files[shuffle.log_no],
      env->OpenFile(LogPath(shuffle.log_dir, handle, shuffle.log_no), {.create = true}));
  return SyncDirAt(SyncSite::kRecoveryLogDir, log_dir_path);
}

}  // namespace shuffle::storage
