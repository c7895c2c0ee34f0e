// Start-up recovery: bump the epoch, reload shuffles and winners, cut segment tails past the last
// indexed extent, replay the commit-log regions that are still live into memory (skipping blocks
// that already reached an extent), delete log files and shuffle directories nothing refers to.
#include <algorithm>
#include <chrono>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle-server/storage/sync_sites.h"
#include "shuffle/core/block.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {
namespace {

using core::Kv;
using BlockIdentity = StorageEngine::Impl::BlockIdentity;

BlockIdentity IdentityOf(const BlockEntry& b) { return {b.map, b.attempt, b.epoch, b.seq}; }

void LogRecovery(const RecoveryReport& r);

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
    max_handle = std::max(max_handle, shuffle->record.handle);
  }
  DropDuplicateRegistrations(recovered, cleanup, report);
  for (const ShufflePtr& shuffle : recovered) {
    handles.insert(shuffle->record.handle);  // the others' directories go as orphans
  }
  if (!cleanup.empty()) {
    SHUFFLE_RETURN_IF_ERROR(index->Write(cleanup, /*sync=*/true));
  }
  SHUFFLE_RETURN_IF_ERROR(RemoveOrphanDirs(handles, report));
  {
    absl::MutexLock lock(&mu);
    catalog.SetNextHandle(std::max({stored_next_handle, max_handle + 1, uint64_t{1}}));
    for (ShufflePtr& shuffle : recovered) {
      ShuffleKey key{core::AppId(shuffle->record.app_id),
                     core::ShuffleId(shuffle->record.shuffle_id)};
      buffers.AddReplayed(shuffle);
      catalog.Add(key, std::move(shuffle));
    }
  }
  report->epoch = epoch;
  report->shuffles = recovered.size();
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LogRecovery(*report);
  return absl::OkStatus();
}

void StorageEngine::Impl::DropDuplicateRegistrations(std::vector<ShufflePtr>& recovered,
                                                     Index::Batch& cleanup,
                                                     RecoveryReport* report) {
  // Before registrations were serialised, two of one key could both reach the index, the later
  // one unused. Keep, per key, the record holding commits (the most; then the lower handle).
  absl::flat_hash_map<ShuffleKey, size_t> kept;
  std::vector<bool> drop(recovered.size(), false);
  for (size_t i = 0; i < recovered.size(); ++i) {
    const ShuffleRecord& record = recovered[i]->record;
    const ShuffleKey key{core::AppId(record.app_id), core::ShuffleId(record.shuffle_id)};
    auto [it, inserted] = kept.try_emplace(key, i);
    if (inserted) {
      continue;
    }
    const ShuffleState& a = *recovered[it->second];
    const ShuffleState& b = *recovered[i];
    const bool b_wins = b.winners.size() > a.winners.size() ||
                        (b.winners.size() == a.winners.size() && b.record.handle < a.record.handle);
    const size_t loser = b_wins ? it->second : i;
    if (b_wins) {
      it->second = i;
    }
    drop[loser] = true;
    const ShuffleState& dropped = *recovered[loser];
    SHUFFLE_LOG(WARNING) << "dropping a duplicate registration" << Kv("app", record.app_id)
                         << Kv("shuffle", record.shuffle_id) << Kv("handle", dropped.record.handle)
                         << Kv("commits", dropped.winners.size())
                         << Kv("kept_handle", recovered[it->second]->record.handle);
    cleanup.DeleteShuffle(dropped.record.handle);
    ++report->duplicate_registrations_dropped;
  }
  size_t out = 0;
  for (size_t i = 0; i < recovered.size(); ++i) {
    if (!drop[i]) {
      recovered[out++] = std::move(recovered[i]);
    }
  }
  recovered.resize(out);
}

absl::Status StorageEngine::Impl::RemoveOrphanDirs(const absl::flat_hash_set<uint64_t>& handles,
                                                   RecoveryReport* report) {
  // Shuffle directories the index does not know: a removal or registration cut short.
  for (uint32_t d = 0; d < layout.dirs(); ++d) {
    const std::string root = layout.ShufflesRoot(d);
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
  return absl::OkStatus();
}

namespace {

void LogRecovery(const RecoveryReport& r) {
  SHUFFLE_LOG(INFO) << "storage recovered" << Kv("epoch", r.epoch) << Kv("shuffles", r.shuffles)
                    << Kv("commits", r.commits) << Kv("extents", r.extents)
                    << Kv("blocks", r.extent_blocks)
                    << Kv("log_regions_replayed", r.log_regions_replayed)
                    << Kv("log_blocks_replayed", r.log_blocks_replayed)
                    << Kv("corrupt_log_blocks", r.corrupt_log_blocks)
                    << Kv("bytes_truncated", r.bytes_truncated)
                    << Kv("orphan_dirs_removed", r.orphan_dirs_removed)
                    << Kv("duplicate_registrations_dropped", r.duplicate_registrations_dropped)
                    << Kv("seconds", r.seconds);
}

}  // namespace

absl::Status StorageEngine::Impl::RecoverShuffle(ShuffleState& shuffle, Index::Batch& cleanup,
                                                 RecoveryReport* report) {
  const uint64_t handle = shuffle.record.handle;
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
  SHUFFLE_ASSIGN_OR_RETURN(IndexedExtents extents, ScanExtents(handle, logs, report));
  SHUFFLE_RETURN_IF_ERROR(segment_store.Recover(handle, extents.end_by_dir, &shuffle.segments,
                                                &report->bytes_truncated));
  for (const LogRecord& log : logs) {
    SHUFFLE_RETURN_IF_ERROR(ReplayLogRegion(shuffle, log, extents.logged_blocks, cleanup, report));
  }
  // The index must stop naming regions before any file they lie in is deleted or cut, or a
  // crash in between would leave records pointing at nothing.
  if (!cleanup.empty()) {
    SHUFFLE_RETURN_IF_ERROR(index->Write(cleanup, /*sync=*/!SyncRemoved(SyncSite::kRecoveryIndex)));
    cleanup.Clear();
  }
  // Log files: cut tails, delete the ones without live regions, start a new one.
  return shuffle.log.FinishRecovery(*env, layout, handle, &report->bytes_truncated);
}

absl::StatusOr<StorageEngine::Impl::IndexedExtents> StorageEngine::Impl::ScanExtents(
    uint64_t handle, const std::vector<LogRecord>& logs, RecoveryReport* report) {
  absl::flat_hash_set<std::tuple<uint32_t, uint32_t, uint32_t>> logged_attempts;
  for (const LogRecord& log : logs) {
    for (const BlockEntry& b : log.blocks) {
      logged_attempts.insert({b.map, b.attempt, b.epoch});
    }
  }
  IndexedExtents out;
  out.end_by_dir.assign(layout.dirs(), 0);
  SHUFFLE_RETURN_IF_ERROR(index->ForEachExtent(handle, [&](const ExtentRecord& extent) {
    ++report->extents;
    report->extent_blocks += extent.blocks.size();
    if (extent.dir < layout.dirs()) {
      uint64_t& end = out.end_by_dir[extent.dir];
      end = std::max(end, extent.offset + AlignUp(extent.length));
    }
    for (const BlockEntry& b : extent.blocks) {
      if (logged_attempts.contains(std::make_tuple(b.map, b.attempt, b.epoch))) {
        out.logged_blocks.insert(IdentityOf(b));
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status StorageEngine::Impl::ReplayLogRegion(
    ShuffleState& shuffle, const LogRecord& log,
    const absl::flat_hash_set<BlockIdentity>& in_extents, Index::Batch& cleanup,
    RecoveryReport* report) {
  const uint64_t handle = shuffle.record.handle;
  SHUFFLE_ASSIGN_OR_RETURN(File * file,
                           shuffle.log.OpenForReplay(*env, layout, handle, log.dir, log.log_no));
  std::string region(log.length, '\0');
  IoOp op{.kind = IoKind::kRead,
          .file = file,
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
    block->CopyBytes(bytes);
    block->log = live;
    PartitionBuffer& buffer = shuffle.partitions[entry.partition];
    buffer.bytes += bytes.size();
    buffer.blocks.push_back(std::move(block));
    ++live->outstanding;
    ++report->log_blocks_replayed;
  }
  if (live->outstanding == 0) {
    cleanup.DeleteLog(handle, log.dir, log.log_no, log.offset);
    return absl::OkStatus();
  }
  ++report->log_regions_replayed;
  shuffle.log.Replayed(log.log_no, log.offset + log.length);
  return absl::OkStatus();
}

}  // namespace shuffle::storage
