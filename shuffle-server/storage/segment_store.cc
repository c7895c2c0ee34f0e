#include "shuffle-server/storage/segment_store.h"

#include "shuffle-server/storage/sync_sites.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

using core::Kv;

uint64_t ShuffleSegments::Allocate(uint32_t dir, uint64_t length) {
  const uint64_t offset = next_offset_[dir];
  next_offset_[dir] += AlignUp(length);
  return offset;
}

absl::Status SegmentStore::Open(uint64_t handle, uint32_t dir, SegmentFile* segment) const {
  const std::string path = layout_->SegmentPath(dir, handle);
  SHUFFLE_ASSIGN_OR_RETURN(segment->file,
                           env_->OpenFile(path, {.create = true, .direct = direct_io_}));
  if (segment->file->direct()) {
    SHUFFLE_ASSIGN_OR_RETURN(segment->serve_file,
                             env_->OpenFile(path, {.create = false, .read_only = true}));
  }
  return absl::OkStatus();
}

void ShuffleSegments::Reset(uint32_t dirs) {
  files_.clear();
  files_.resize(dirs);
  next_offset_.assign(dirs, 0);
  written_.assign(dirs, 0);
}

absl::Status SegmentStore::Create(uint64_t handle, ShuffleSegments* segments) const {
  segments->Reset(layout_->dirs());
  for (uint32_t d = 0; d < layout_->dirs(); ++d) {
    SHUFFLE_RETURN_IF_ERROR(env_->CreateDirs(layout_->ShuffleDir(d, handle)));
    SHUFFLE_RETURN_IF_ERROR(SyncDirAt(*env_, SyncSite::kRegisterRootDir, layout_->ShufflesRoot(d)));
    SHUFFLE_RETURN_IF_ERROR(Open(handle, d, &segments->files_[d]));
    SHUFFLE_RETURN_IF_ERROR(
        SyncDirAt(*env_, SyncSite::kRegisterShuffleDir, layout_->ShuffleDir(d, handle)));
  }
  return absl::OkStatus();
}

absl::Status SegmentStore::Recover(uint64_t handle, const std::vector<uint64_t>& indexed_end,
                                   ShuffleSegments* segments, uint64_t* truncated) const {
  segments->Reset(layout_->dirs());
  for (uint32_t d = 0; d < layout_->dirs(); ++d) {
    SHUFFLE_RETURN_IF_ERROR(env_->CreateDirs(layout_->ShuffleDir(d, handle)));
    SHUFFLE_RETURN_IF_ERROR(Open(handle, d, &segments->files_[d]));
    File& file = *segments->files_[d].file;
    SHUFFLE_ASSIGN_OR_RETURN(uint64_t size, file.Size());
    // Everything past the last indexed extent was never acknowledged.
    if (size > indexed_end[d]) {
      SHUFFLE_RETURN_IF_ERROR(file.Truncate(indexed_end[d]));
      *truncated += size - indexed_end[d];
    } else if (size < indexed_end[d]) {
      SHUFFLE_LOG(ERROR) << "segment file is shorter than its index says; data was lost below "
                            "the storage engine"
                         << Kv("path", file.path()) << Kv("size", size)
                         << Kv("indexed_end", indexed_end[d]);
    }
    segments->next_offset_[d] = indexed_end[d];
    segments->written_[d] = indexed_end[d];
  }
  return absl::OkStatus();
}

absl::Status SegmentStore::Remove(uint64_t handle) const {
  for (uint32_t d = 0; d < layout_->dirs(); ++d) {
    SHUFFLE_RETURN_IF_ERROR(env_->RemoveAll(layout_->ShuffleDir(d, handle)));
  }
  return absl::OkStatus();
}

}  // namespace shuffle::storage
