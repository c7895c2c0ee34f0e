// Where Spark's sort-shuffle output lies on disk, as Spark's IndexShuffleBlockResolver writes it
// and its ExecutorDiskUtils finds it: `shuffle_<shuffle>_<map>_0.data` with its `.index` (one
// big-endian long offset per reduce partition, plus the end) and `.checksum.<ALGORITHM>` (one
// long per partition), and cached RDD blocks `rdd_<rdd>_<split>`, each in
// `<local dir>/<2 hex digits>/` chosen by the Java hash of the file name.
//
// Only names of exactly these shapes are ever turned into paths (IsServableFileName), so a
// client cannot name another file, and paths stay inside the executor's registered local dirs.
//
// BlockFiles opens and caches descriptors of index and data files (a bounded number, so a
// reducer's many small blocks cost no open(2) each). Thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_BLOCK_FILES_H_
#define SHUFFLE_SERVER_SPARKESS_BLOCK_FILES_H_

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "shuffle-server/sparkess/messages.h"

namespace shuffle::sparkess {

// Java's String.hashCode of an ASCII string (Spark hashes file names with it).
int32_t JavaStringHash(std::string_view ascii);

// Spark's ExecutorDiskUtils.getFilePath: the path of `file_name` among the executor's dirs.
// REQUIRES: info.local_dirs non-empty and info.sub_dirs_per_local_dir > 0 (registration checks).
std::string BlockFilePath(const ExecutorShuffleInfo& info, std::string_view file_name);

// Whether `name` is one of Spark's block file names: shuffle_S_M_R.data / .index /
// .checksum.ALG (ALG letters and digits), or rdd_R_S, with decimal ids and nothing else.
bool IsServableFileName(std::string_view name);

// An open, read-only file; closed when the last reference goes.
class OpenFile {
 public:
  OpenFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  const int fd_;
  const std::string path_;
};

// A byte range of a file; `file` keeps the descriptor open.
struct FileSegment {
  std::shared_ptr<const OpenFile> file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

class BlockFiles {
 public:
  // Serves files below `root` only (resolved, absolute): every open resolves its path beneath
  // the root without following any symlink (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).
  // NOT_FOUND or PERMISSION_DENIED naming the root when it cannot be opened.
  static absl::StatusOr<std::unique_ptr<BlockFiles>> Open(std::string root,
                                                          size_t max_open_files = 1024);
  ~BlockFiles();
  BlockFiles(const BlockFiles&) = delete;
  BlockFiles& operator=(const BlockFiles&) = delete;

  // Reduce partitions [start, end) of map `map_id`'s output: the range the index gives, in the
  // data file. NOT_FOUND naming the path when a file is missing; OUT_OF_RANGE when the index has
  // no such partitions; DATA_LOSS when the index is inconsistent with the data file.
  absl::StatusOr<FileSegment> ShuffleBlocks(const ExecutorShuffleInfo& info, int32_t shuffle_id,
                                            int64_t map_id, int32_t start_reduce,
                                            int32_t end_reduce);
  // A whole cached RDD block file.
  absl::StatusOr<FileSegment> RddBlock(const ExecutorShuffleInfo& info, int32_t rdd_id,
                                       int32_t split);

  // Opens (or finds cached) the file at `path`, which must lie under the root.
  absl::StatusOr<std::shared_ptr<const OpenFile>> OpenFileAt(const std::string& path);
  // Deletes the file at `path` (under the root, no symlinks on the way) and forgets its cached
  // descriptor. NOT_FOUND when there is none.
  absl::Status Remove(const std::string& path);

  // Forgets cached descriptors of paths under `prefix` (after files were deleted).
  void Forget(std::string_view prefix);
  size_t open_files() const;

 private:
  BlockFiles(std::string root, int root_fd, size_t max_open_files)
      : root_(std::move(root)), root_fd_(root_fd), max_open_files_(max_open_files) {}
  // openat2 beneath the root; a descriptor or an errno-based status.
  absl::StatusOr<int> OpenBeneath(const std::string& path, uint64_t flags) const;

  const std::string root_;
  const int root_fd_;
  const size_t max_open_files_;
  mutable std::mutex mu_;
  // Most recently used first.
  std::list<std::shared_ptr<const OpenFile>> lru_;  // guarded by mu_
  absl::flat_hash_map<std::string, std::list<std::shared_ptr<const OpenFile>>::iterator>
      by_path_;  // guarded by mu_
};

// Reads the long at `index` of a file of big-endian longs (index and checksum files).
absl::StatusOr<int64_t> ReadBigEndianLong(const OpenFile& file, uint64_t index);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_BLOCK_FILES_H_
