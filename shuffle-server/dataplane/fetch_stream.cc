#include "shuffle-server/dataplane/fetch_stream.h"

#include <algorithm>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "shuffle-server/dataplane/send_file.h"
#include "shuffle/core/frame.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::dataplane {
namespace {

constexpr size_t kMaxBlocksPerFrame = 16384;

using core::FrameType;

// Walks a plan's file ranges front to back, handing out the pieces that hold the next bytes.
class RangeCursor {
 public:
  explicit RangeCursor(const std::vector<storage::FileRange>& ranges) : ranges_(ranges) {}

  // The pieces holding the next `bytes` bytes: a frame may end inside a range and span several.
  std::vector<storage::FileRange> Take(uint64_t bytes) {
    std::vector<storage::FileRange> pieces;
    while (bytes > 0) {
      SHUFFLE_CHECK(index_ < ranges_.size()) << "fetch plan's ranges are shorter than its blocks";
      const storage::FileRange& range = ranges_[index_];
      const uint64_t take = std::min(bytes, range.length - offset_);
      pieces.push_back(
          storage::FileRange{.fd = range.fd, .offset = range.offset + offset_, .length = take});
      bytes -= take;
      offset_ += take;
      if (offset_ == range.length) {
        ++index_;
        offset_ = 0;
      }
    }
    return pieces;
  }

 private:
  const std::vector<storage::FileRange>& ranges_;
  size_t index_ = 0;
  uint64_t offset_ = 0;
};

// Queues one kFetchData frame holding `blocks` (`bytes` payload bytes, the cursor's next ones).
absl::Status SendFrame(uint64_t request_id, std::span<const storage::BlockEntry> blocks,
                       uint64_t bytes, const storage::FetchPlan& plan, RangeCursor& cursor,
                       ResponseWriter& out) {
  proto::FetchData data;
  for (const storage::BlockEntry& block : blocks) {
    proto::BlockOrigin* origin = data.add_blocks();
    origin->set_map_id(block.map);
    origin->set_attempt(block.attempt);
    origin->set_partition_id(block.partition);
    origin->set_length(block.length);
    origin->set_seq(block.seq);
  }
  std::vector<storage::FileRange> pieces = cursor.Take(bytes);
  // Start the disk reads now, on this worker thread, while the frame waits for room in the
  // connection's window: the I/O thread's sendfile then finds the pages in memory.
  for (const storage::FileRange& piece : pieces) {
    AdviseWillNeed(piece);
  }
  return out.SendWithBackpressure(
      OutFrame(core::EncodeFrameHead(FrameType::kFetchData, request_id, data.SerializeAsString(),
                                     static_cast<uint32_t>(bytes)),
               std::move(pieces), plan.files));
}

}  // namespace

absl::Status StreamFetch(uint64_t request_id, uint64_t frame_bytes, const storage::FetchPlan& plan,
                         ResponseWriter& out) {
  RangeCursor cursor(plan.ranges);
  const std::span<const storage::BlockEntry> blocks(plan.blocks);
  size_t first = 0;    // first block of the frame being built
  uint64_t bytes = 0;  // its payload so far
  for (size_t i = 0; i < blocks.size(); ++i) {
    const uint64_t length = blocks[i].length;
    // A frame's header lists its blocks; clients take headers of up to 1 MiB.
    if (i > first && (bytes + length > frame_bytes || i - first >= kMaxBlocksPerFrame)) {
      SHUFFLE_RETURN_IF_ERROR(
          SendFrame(request_id, blocks.subspan(first, i - first), bytes, plan, cursor, out));
      first = i;
      bytes = 0;
    }
    bytes += length;
    if (bytes >= frame_bytes) {
      SHUFFLE_RETURN_IF_ERROR(
          SendFrame(request_id, blocks.subspan(first, i + 1 - first), bytes, plan, cursor, out));
      first = i + 1;
      bytes = 0;
    }
  }
  if (first < blocks.size()) {
    SHUFFLE_RETURN_IF_ERROR(SendFrame(request_id, blocks.subspan(first), bytes, plan, cursor, out));
  }
  proto::FetchEnd end;
  end.set_blocks(blocks.size());
  end.set_bytes(plan.bytes);
  return out.Send(OutFrame(core::EncodeFrame(FrameType::kFetchEnd, request_id,
                                             end.SerializeAsString(), /*payload=*/{})));
}

}  // namespace shuffle::dataplane
