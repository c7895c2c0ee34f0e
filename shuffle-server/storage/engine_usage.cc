// What the engine holds: counters, per-namespace, per-shuffle and per-directory usage. Every
// figure is a snapshot taken under the engine's mutex.
#include <algorithm>
#include <tuple>

#include "shuffle-server/storage/engine_impl.h"

namespace shuffle::storage {

std::map<std::string, uint64_t> StorageEngine::NamespaceUsage() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->catalog.namespace_bytes();
}

uint64_t StorageEngine::NamespaceQuota(std::string_view namespace_name) const {
  return QuotaOf(impl_->options, namespace_name);
}

EngineStats StorageEngine::stats() const {
  absl::MutexLock lock(&impl_->mu);
  EngineStats s = impl_->stats;
  s.memory_bytes = impl_->buffers.memory_bytes();
  s.draining = impl_->draining;
  return s;
}

std::vector<ShuffleUsage> StorageEngine::Usage() const {
  std::vector<ShuffleUsage> out;
  {
    absl::MutexLock lock(&impl_->mu);
    out.reserve(impl_->catalog.shuffles().size());
    for (const auto& [key, shuffle] : impl_->catalog.shuffles()) {
      ShuffleUsage u;
      u.record = shuffle->record;
      for (uint32_t d = 0; d < shuffle->segments.dirs(); ++d) {
        u.dir_bytes.push_back(shuffle->DirBytes(d));
      }
      u.disk_bytes = shuffle->DiskBytes();
      u.stored_bytes = shuffle->stored_bytes;
      u.files = shuffle->segments.dirs() + shuffle->log.files();
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
  for (const auto& [key, shuffle] : impl_->catalog.shuffles()) {
    for (uint32_t d = 0; d < shuffle->segments.dirs() && d < out.size(); ++d) {
      out[d].used_bytes += shuffle->DirBytes(d);
      out[d].files += shuffle->segments.file(d).file != nullptr ? 1 : 0;
    }
    if (shuffle->log.dir() < out.size()) {
      out[shuffle->log.dir()].files += shuffle->log.files();
    }
  }
  return out;
}

}  // namespace shuffle::storage
