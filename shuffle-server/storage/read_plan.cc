#include "shuffle-server/storage/read_plan.h"

#include <algorithm>

#include "shuffle-server/storage/env.h"

namespace shuffle::storage {
namespace {

uint64_t AlignUpTo(uint64_t v) {
  return (v + kDirectIoAlignment - 1) & ~uint64_t{kDirectIoAlignment - 1};
}

}  // namespace

std::vector<ReadRange> PlanReads(const std::vector<ExtentRecord>& extents, const WinnerMap& winners,
                                 uint64_t max_read_bytes, uint64_t max_gap) {
  // Served extents with their served blocks, in (dir, offset) order.
  struct Served {
    const ExtentRecord* extent;
    std::vector<ReadRange::Slice> slices;  // offsets relative to the extent
  };
  std::vector<Served> served;
  for (const ExtentRecord& extent : extents) {
    Served s{&extent, {}};
    uint64_t at = 0;
    for (const BlockEntry& block : extent.blocks) {
      auto it = winners.find(block.map);
      if (it != winners.end() && it->second.first == block.attempt &&
          it->second.second == block.epoch) {
        s.slices.push_back({at, block});
      }
      at += block.length;
    }
    if (!s.slices.empty()) {
      served.push_back(std::move(s));
    }
  }
  std::sort(served.begin(), served.end(), [](const Served& a, const Served& b) {
    return std::pair(a.extent->dir, a.extent->offset) < std::pair(b.extent->dir, b.extent->offset);
  });
  std::vector<ReadRange> ranges;
  for (const Served& s : served) {
    const ExtentRecord& e = *s.extent;
    const uint64_t end = e.offset + AlignUpTo(e.length);
    if (!ranges.empty()) {
      ReadRange& last = ranges.back();
      const uint64_t last_end = last.offset + last.length;
      if (last.dir == e.dir && e.offset >= last_end && e.offset - last_end <= max_gap &&
          end - last.offset <= max_read_bytes) {
        for (const ReadRange::Slice& slice : s.slices) {
          last.slices.push_back({slice.offset + (e.offset - last.offset), slice.entry});
        }
        last.length = end - last.offset;
        continue;
      }
    }
    ReadRange range{.dir = e.dir, .offset = e.offset, .length = end - e.offset, .slices = {}};
    range.slices = s.slices;
    ranges.push_back(std::move(range));
  }
  return ranges;
}

}  // namespace shuffle::storage
