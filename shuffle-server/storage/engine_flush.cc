// Flushing on demand: seals, reads, scrubs and drains ask the I/O thread to write partitions'
// aggregation buffers out as extents and wait for the round that does it. Also the durable seal
// flag.
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle-server/storage/sync_sites.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

bool StorageEngine::Impl::HoldsCommittedBlocks(const ShuffleState& shuffle, uint32_t partition,
                                               const WinnerMap* only) const {
  for (const BlockPtr& block : shuffle.partitions[partition].blocks) {
    const BlockEntry& e = block->entry;
    if (only != nullptr) {
      auto it = only->find(e.map);
      if (it != only->end() && it->second == std::make_pair(e.attempt, e.epoch)) {
        return true;
      }
      continue;
    }
    auto it = shuffle.winners.find(e.map);
    if (it != shuffle.winners.end() && it->second.attempt == e.attempt &&
        it->second.epoch == e.epoch) {
      return true;
    }
  }
  return false;
}

absl::Status StorageEngine::Impl::FlushAndWait(const ShufflePtr& shuffle, uint32_t begin,
                                               uint32_t end, bool everything,
                                               const WinnerMap* only) {
  absl::MutexLock lock(&mu);
  // A round moves blocks from the buffers into its jobs when it starts and into the index when it
  // ends: while one is in progress, a block can be in neither place. Wait rounds out, so every
  // block is either in a buffer or in the index when the buffers are examined.
  auto await_idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (rounds_started > rounds_completed && !stopping) {
      round_cv.Wait(&mu);
    }
  };
  // A few rounds, in case a commit lands between a round and the check.
  for (int round = 0; round < 3; ++round) {
    await_idle();
    bool any = false;
    for (uint32_t p = begin; p < end; ++p) {
      PartitionBuffer& buffer = shuffle->partitions[p];
      if (buffer.blocks.empty() || (!everything && !HoldsCommittedBlocks(*shuffle, p, only))) {
        continue;
      }
      buffers.RequestFlush(shuffle, p);
      any = true;
    }
    if (!any) {
      return absl::OkStatus();
    }
    // The round that picks these up starts after the current one (if any) completes.
    const uint64_t target = rounds_started + 1;
    work_cv.Signal();
    // A removal drops the buffers this waits for: no round may ever write them.
    while (rounds_completed < target && !stopping && !shuffle->removed) {
      round_cv.Wait(&mu);
    }
    if (shuffle->removed) {
      return absl::NotFoundError(
          absl::StrCat("shuffle ", DescribeShuffle(*shuffle), " was removed"));
    }
    if (stopping) {
      break;
    }
    everything = false;  // later rounds only chase committed blocks
  }
  await_idle();
  for (uint32_t p = begin; p < end; ++p) {
    if (HoldsCommittedBlocks(*shuffle, p, only)) {
      // Serving now would silently omit committed blocks: refuse instead.
      const absl::Status& error = buffers.last_flush_error();
      const std::string why = error.ok() ? std::string("new commits kept arriving")
                                         : absl::StrCat("writing them failed: ", error.message());
      return absl::UnavailableError(absl::StrCat(
          "partition ", p, " of shuffle ", DescribeShuffle(*shuffle),
          " still has committed blocks in memory after 3 flush rounds (", why, "); retry"));
    }
  }
  return absl::OkStatus();
}

absl::Status StorageEngine::Seal(const ShuffleKey& key) {
  ShufflePtr shuffle = impl_->FindActive(key);
  if (shuffle == nullptr) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " is not registered"));
  }
  SHUFFLE_RETURN_IF_ERROR(
      impl_->FlushAndWait(shuffle, 0, shuffle->record.num_partitions, /*everything=*/true));
  return impl_->MarkSealed(shuffle);
}

absl::Status StorageEngine::Impl::MarkSealed(const ShufflePtr& shuffle) {
  // RemoveShuffle deletes the index records under io_mu: holding it, a removed shuffle's record
  // cannot be written back.
  io_waiters.fetch_add(1);
  absl::MutexLock io_lock(&io_mu);
  io_waiters.fetch_sub(1);
  ShuffleRecord record;
  {
    absl::MutexLock lock(&mu);
    if (shuffle->removed) {
      return absl::NotFoundError(
          absl::StrCat("shuffle ", DescribeShuffle(*shuffle), " was removed while sealing"));
    }
    if (shuffle->record.sealed) {
      return absl::OkStatus();
    }
    record = shuffle->record;
  }
  record.sealed = true;
  Index::Batch batch;
  batch.PutShuffle(record);
  SHUFFLE_RETURN_IF_ERROR(index->Write(batch, /*sync=*/!SyncRemoved(SyncSite::kSealIndex)));
  env->CrashPoint(crash_point::kSealIndexed);
  absl::MutexLock lock(&mu);
  shuffle->record.sealed = true;
  return absl::OkStatus();
}

}  // namespace shuffle::storage
