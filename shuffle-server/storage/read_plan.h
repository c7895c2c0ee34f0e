// Read planning, a pure function kept apart so it can be tested and benchmarked alone: from a
// partition's extents (index order) and the winning attempt of each map, the list of disk reads
// to issue, with neighbouring extents of the same file coalesced into one read.
#ifndef SHUFFLE_SERVER_STORAGE_READ_PLAN_H_
#define SHUFFLE_SERVER_STORAGE_READ_PLAN_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "shuffle-server/storage/index.h"

namespace shuffle::storage {

// map -> (attempt, epoch) of its winning attempt. Maps absent from it are not served.
using WinnerMap = absl::flat_hash_map<uint32_t, std::pair<uint32_t, uint32_t>>;

// One aligned read, and the served blocks inside it.
struct ReadRange {
  struct Slice {
    uint64_t offset = 0;  // within the range
    BlockEntry entry;
  };
  uint32_t dir = 0;
  uint64_t offset = 0;  // aligned to kDirectIoAlignment
  uint64_t length = 0;  // aligned to kDirectIoAlignment
  std::vector<Slice> slices;
};

// Extents holding no served block are skipped. Two extents of the same file are merged when the
// gap between them is at most `max_gap` bytes and the merged read stays within `max_read_bytes`
// (a single extent larger than that is still read whole). Ranges come out ordered by
// (dir, offset); slices within a range by offset.
std::vector<ReadRange> PlanReads(const std::vector<ExtentRecord>& extents, const WinnerMap& winners,
                                 uint64_t max_read_bytes, uint64_t max_gap = 0);

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_READ_PLAN_H_
