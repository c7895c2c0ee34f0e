// Where the storage engine keeps a shuffle's files, and the small arithmetic its parts share:
//   <data dir>/shuffles/<handle>/data.seg          one segment file per data directory
//   <data dir>/shuffles/<handle>/commit-<n>.log    the commit log, in data dir (handle % dirs)
// Partition p's extents go to data dir (p % dirs). A value type; thread-safe once built.
#ifndef SHUFFLE_SERVER_STORAGE_LAYOUT_H_
#define SHUFFLE_SERVER_STORAGE_LAYOUT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/env.h"

namespace shuffle::storage {

// `v` rounded up to kDirectIoAlignment: extents start and end on aligned offsets.
inline uint64_t AlignUp(uint64_t v) {
  return (v + kDirectIoAlignment - 1) & ~uint64_t{kDirectIoAlignment - 1};
}

// One key for a (map, attempt) pair.
inline uint64_t AttemptKey(uint32_t map, uint32_t attempt) {
  return (uint64_t{map} << 32) | attempt;
}

class DataLayout {
 public:
  explicit DataLayout(std::vector<std::string> data_dirs) : data_dirs_(std::move(data_dirs)) {}

  uint32_t dirs() const { return static_cast<uint32_t>(data_dirs_.size()); }
  const std::string& DataDir(uint32_t dir) const { return data_dirs_[dir]; }
  std::string ShufflesRoot(uint32_t dir) const { return data_dirs_[dir] + "/shuffles"; }
  std::string ShuffleDir(uint32_t dir, uint64_t handle) const {
    return absl::StrCat(data_dirs_[dir], "/shuffles/", handle);
  }
  std::string SegmentPath(uint32_t dir, uint64_t handle) const {
    return ShuffleDir(dir, handle) + "/data.seg";
  }
  std::string LogPath(uint32_t dir, uint64_t handle, uint32_t log_no) const {
    return absl::StrCat(ShuffleDir(dir, handle), "/commit-", log_no, ".log");
  }
  // The data directory of a shuffle's commit log, and of a partition's extents.
  uint32_t LogDirOf(uint64_t handle) const { return static_cast<uint32_t>(handle % dirs()); }
  uint32_t DirOfPartition(uint32_t partition) const { return partition % dirs(); }

 private:
  std::vector<std::string> data_dirs_;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_LAYOUT_H_
