// The segment store: each shuffle's segment files, one per data directory, and the allocation of
// extents in them. An extent is a run of one partition's blocks written at an aligned offset at
// the end of its directory's segment; while the engine runs a segment only grows, and recovery
// cuts off whatever lies past the last extent the index names.
//
// Thread-safety: SegmentStore holds only immutable state (env, layout) and may be used from any
// thread; its file operations run without the engine's lock. A ShuffleSegments lives in its
// ShuffleState: Allocate/Written and the figures REQUIRE the engine's lock; the files are set
// before the shuffle is published and never change, so readers use them without the lock.
#ifndef SHUFFLE_SERVER_STORAGE_SEGMENT_STORE_H_
#define SHUFFLE_SERVER_STORAGE_SEGMENT_STORE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/layout.h"

namespace shuffle::storage {

struct SegmentFile {
  std::unique_ptr<File> file;  // written and read by the engine (O_DIRECT where allowed)
  // The same file opened buffered and read-only, for fetches sent with sendfile: on an O_DIRECT
  // descriptor sendfile would bypass the page cache and need aligned offsets. Null when `file`
  // is buffered already.
  std::unique_ptr<File> serve_file;

  int ServeFd() const { return (serve_file != nullptr ? serve_file : file)->fd(); }
};

// The segment files of one shuffle and where the next extent goes in each.
class ShuffleSegments {
 public:
  // Reserves room for an extent of `length` bytes at the end of the segment in `dir` and returns
  // its offset; the next extent starts at the next aligned offset. REQUIRES: the engine's lock.
  uint64_t Allocate(uint32_t dir, uint64_t length);
  // Counts `bytes` (padding included) written successfully to the segment in `dir`.
  void Written(uint32_t dir, uint64_t bytes) { written_[dir] += bytes; }
  uint64_t written(uint32_t dir) const { return written_[dir]; }
  uint64_t next_offset(uint32_t dir) const { return next_offset_[dir]; }

  uint32_t dirs() const { return static_cast<uint32_t>(files_.size()); }
  const SegmentFile& file(uint32_t dir) const { return files_[dir]; }

 private:
  friend class SegmentStore;
  void Reset(uint32_t dirs);  // no files, every offset 0

  std::vector<SegmentFile> files_;
  std::vector<uint64_t> next_offset_;  // always aligned
  std::vector<uint64_t> written_;      // bytes written successfully (recovery: the indexed end)
};

class SegmentStore {
 public:
  // `env` and `layout` must outlive the store.
  SegmentStore(Env* env, const DataLayout* layout, bool direct_io)
      : env_(env), layout_(layout), direct_io_(direct_io) {}
  SegmentStore(const SegmentStore&) = delete;
  SegmentStore& operator=(const SegmentStore&) = delete;

  // Registration: creates the shuffle's directory and segment file in every data directory, each
  // made durable (the new directory in <data dir>/shuffles, the file in the new directory).
  absl::Status Create(uint64_t handle, ShuffleSegments* segments) const;
  // Recovery: opens the segment files (creating a missing one) and cuts each one past
  // `indexed_end[dir]` (the end of its last indexed extent), adding the bytes cut off to
  // `*truncated`. A segment shorter than its index says is logged: data was lost below us.
  absl::Status Recover(uint64_t handle, const std::vector<uint64_t>& indexed_end,
                       ShuffleSegments* segments, uint64_t* truncated) const;
  // Deletes the shuffle's directory (its segment and commit-log files) from every data directory.
  absl::Status Remove(uint64_t handle) const;

 private:
  absl::Status Open(uint64_t handle, uint32_t dir, SegmentFile* segment) const;

  Env* const env_;
  const DataLayout* const layout_;
  const bool direct_io_;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_SEGMENT_STORE_H_
