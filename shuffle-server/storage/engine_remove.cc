// Removing shuffles and applications: index records first (synced), then the files, so nothing
// the index names is ever missing; idle applications are found by their shuffles' last activity.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle-server/storage/sync_sites.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

using core::Kv;

absl::StatusOr<uint64_t> StorageEngine::RemoveShuffle(const ShuffleKey& key) {
  Impl& impl = *impl_;
  impl.io_waiters.fetch_add(1);
  absl::MutexLock io_lock(&impl.io_mu);  // no I/O round is running
  impl.io_waiters.fetch_sub(1);
  ShufflePtr shuffle;
  uint64_t freed = 0;
  {
    absl::MutexLock lock(&impl.mu);
    shuffle = impl.catalog.Remove(key);
    if (shuffle == nullptr) {
      return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " is not registered"));
    }
    freed = shuffle->DiskBytes();
    for (PartitionBuffer& buffer : shuffle->partitions) {
      for (BlockPtr& block : buffer.blocks) {
        impl.buffers.Release(*block);
      }
      buffer.blocks.clear();
      buffer.bytes = 0;
    }
    for (auto& [attempt_key, attempt] : shuffle->attempts) {
      for (BlockPtr& block : attempt.direct_blocks) {
        impl.buffers.Release(*block);
      }
    }
    impl.round_cv.SignalAll();
  }
  Index::Batch batch;
  batch.DeleteShuffle(shuffle->record.handle);
  SHUFFLE_RETURN_IF_ERROR(impl.index->Write(batch, /*sync=*/!SyncRemoved(SyncSite::kRemoveIndex)));
  impl.env->CrashPoint(crash_point::kRemoveIndexed);
  SHUFFLE_RETURN_IF_ERROR(impl.segment_store.Remove(shuffle->record.handle));
  SHUFFLE_LOG(INFO) << "removed shuffle" << Kv("app", key.app.value())
                    << Kv("shuffle", key.shuffle.value()) << Kv("bytes", freed);
  return freed;
}

absl::StatusOr<uint64_t> StorageEngine::RemoveApplication(const core::AppId& app) {
  std::vector<ShuffleKey> keys;
  {
    absl::MutexLock lock(&impl_->mu);
    for (const auto& [key, shuffle] : impl_->catalog.shuffles()) {
      if (key.app == app) {
        keys.push_back(key);
      }
    }
  }
  uint64_t freed = 0;
  for (const ShuffleKey& key : keys) {
    absl::StatusOr<uint64_t> bytes = RemoveShuffle(key);
    if (!bytes.ok() && !absl::IsNotFound(bytes.status())) {
      return bytes.status();
    }
    freed += bytes.value_or(0);
  }
  return freed;
}

absl::StatusOr<std::vector<core::AppId>> StorageEngine::RemoveIdleApplications(absl::Duration ttl) {
  std::map<std::string, bool> idle;  // app -> every shuffle idle
  {
    absl::MutexLock lock(&impl_->mu);
    const absl::Time cutoff = absl::Now() - ttl;
    for (const auto& [key, shuffle] : impl_->catalog.shuffles()) {
      auto [it, inserted] = idle.emplace(key.app.value(), true);
      it->second = it->second && shuffle->last_activity < cutoff;
    }
  }
  std::vector<core::AppId> removed;
  for (const auto& [app, is_idle] : idle) {
    if (!is_idle) {
      continue;
    }
    SHUFFLE_RETURN_IF_ERROR(RemoveApplication(core::AppId(app)).status());
    SHUFFLE_LOG(INFO) << "removed idle application" << Kv("app", app)
                      << Kv("ttl_seconds", absl::ToDoubleSeconds(ttl));
    removed.emplace_back(app);
  }
  return removed;
}

}  // namespace shuffle::storage
