// FetchPlan: a fetch resolved to what must be sent instead of the bytes themselves. The data plane
// sends the plan's file ranges straight from the page cache to the socket (sendfile), so block
// bytes never pass through user space on the server; the blocks carry their own checksums, which
// the client verifies.
//
// A plan is a plain value; the descriptors it names stay open while any copy of it (or of its
// `files` handle) lives, also after the shuffle was removed (its files are then unlinked but
// still readable). Safe to read from any thread.
#ifndef SHUFFLE_SERVER_STORAGE_FETCH_PLAN_H_
#define SHUFFLE_SERVER_STORAGE_FETCH_PLAN_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "shuffle-server/storage/index.h"
#include "shuffle-server/storage/read_plan.h"

namespace shuffle::storage {

// Bytes [offset, offset + length) of the open file `fd`.
struct FileRange {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;

  friend bool operator==(const FileRange&, const FileRange&) = default;
};

struct FetchPlan {
  // The served blocks, in the order their bytes follow each other in `ranges`.
  std::vector<BlockEntry> blocks;
  // The blocks' bytes, back to back; neighbouring slices of one file are merged into one range.
  std::vector<FileRange> ranges;
  uint64_t bytes = 0;  // sum of the block lengths, equal to the sum of the range lengths
  // Keeps the descriptors in `ranges` open while it lives.
  std::shared_ptr<const void> files;
};

// The plan for `ranges` (from PlanReads), whose `dir`s index `fds`: blocks in range and slice
// order (the order StorageEngine::Read serves them in), and their bytes as file ranges with
// neighbouring slices merged. `files` is left empty. REQUIRES: every range's dir < fds.size().
FetchPlan BuildFetchPlan(const std::vector<ReadRange>& ranges, std::span<const int> fds);

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_FETCH_PLAN_H_
