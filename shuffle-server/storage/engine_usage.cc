// What the engine holds: counters, per-namespace, per-shuffle and per-directory usage. Every
// figure is a snapshot taken under the engine's mutex.
#include <algorithm>
#include <tuple>

#include "shuffle-server/storage/engine_impl.h"

namespace shuffle::storage {

std::map<std::string, uint64_t> StorageEngine::NamespaceUsage() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->namespace_bytes;
}

uint64_t StorageEngine::NamespaceQuota(std::string_view namespace_name) const {
  return impl_->QuotaOf(std::string(namespace_name));
}

EngineStats StorageEngine::stats() const {
  absl::MutexLock lock(&impl_->mu);
  EngineStats s = impl_->stats;
  s.memory_bytes = impl_->memory_bytes;
  s.draining = impl_->draining;
  return s;
}

std::vector<ShuffleUsage> StorageEngine::Usage() const {
  std::vector<ShuffleUsage> out;
  {
    absl::MutexLock lock(&impl_->mu);
    out.reserve(impl_->shuffles.size());
    for (const auto& [key, shuffle] : impl_->shuffles) {
      ShuffleUsage u;
      u.record = shuffle->record;
      u.dir_bytes = shuffle->dir_bytes;
      u.disk_bytes = shuffle->DiskBytes();
      u.stored_bytes = shuffle->stored_bytes;
      u.files = shuffle->segments.size() + shuffle->log_files.size();
      u.committed_maps = shuffle->winners.size();
      out.push_back(std::move(u));
    }
  }
  std::sort(out.begin(), out.end(), [](const ShuffleUsage& a, const ShuffleUsage& b) {
    return std::tie(a.record.app_id, a.record.shuffle_id) <
           std::tie(b.record.app_id, b.record.shuffle_id);
  });
  return out;
}

std::vector<DirectoryUsage> StorageEngine::UsageByDirectory() const {
  const std::vector<std::string>& dirs = impl_->options.data_dirs;
  std::vector<DirectoryUsage> out(dirs.size());
  for (size_t d = 0; d < dirs.size(); ++d) {
    out[d].path = dirs[d];
  }
  absl::MutexLock lock(&impl_->mu);
  for (const auto& [key, shuffle] : impl_->shuffles) {
    for (size_t d = 0; d < shuffle->dir_bytes.size() && d < out.size(); ++d) {
      out[d].used_bytes += shuffle->dir_bytes[d];
    }
    for (size_t d = 0; d < shuffle->segments.size() && d < out.size(); ++d) {
      out[d].files += shuffle->segments[d].file != nullptr ? 1 : 0;
    }
    if (shuffle->log_dir < out.size()) {
      out[shuffle->log_dir].files += shuffle->log_files.size();
    }
  }
  return out;
}

}  // namespace shuffle::storage
