#include "shuffle-server/storage/fetch_plan.h"

namespace shuffle::storage {

FetchPlan BuildFetchPlan(const std::vector<ReadRange>& ranges, std::span<const int> fds) {
  FetchPlan plan;
  for (const ReadRange& range : ranges) {
    const int fd = fds[range.dir];
    for (const ReadRange::Slice& slice : range.slices) {
      const uint64_t offset = range.offset + slice.offset;
      const uint64_t length = slice.entry.length;
      plan.blocks.push_back(slice.entry);
      plan.bytes += length;
      if (length == 0) {
        continue;  // nothing to send; an empty range would only cost a system call
      }
      // Blocks of one extent lie back to back; extents are padded to the O_DIRECT alignment, so
      // two extents merge only when the first one's length happens to be aligned.
      if (!plan.ranges.empty()) {
        FileRange& last = plan.ranges.back();
        if (last.fd == fd && last.offset + last.length == offset) {
          last.length += length;
          continue;
        }
      }
      plan.ranges.push_back(FileRange{.fd = fd, .offset = offset, .length = length});
    }
  }
  return plan;
}

}  // namespace shuffle::storage
