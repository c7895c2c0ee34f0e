// BlockTracker: the blocks a reader accepts from one server, and which of them it has already
// delivered, so that a fetch retried after a broken connection or a server restart delivers every
// block exactly once and blocks of superseded attempts are never delivered.
//
// Sized from the map statuses: the server numbers an attempt's blocks 0..n-1 in push order, n
// being the attempt's block count over all partitions, so each accepted attempt gets n bits in
// one flat bitmap (no allocation per block, unlike a node-based set). A sequence number outside
// that range would only be a server's change of numbering; it falls back to a hash set, so
// exactly-once never depends on the numbering.
//
// Not thread-safe: one fetching thread owns it.
#ifndef SHUFFLE_CLIENT_BLOCK_TRACKER_H_
#define SHUFFLE_CLIENT_BLOCK_TRACKER_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

class BlockTracker {
 public:
  // An accepted attempt, as returned by Find().
  using Slot = int32_t;
  static constexpr Slot kUnknown = -1;

  BlockTracker() = default;
  BlockTracker(const BlockTracker&) = delete;
  BlockTracker& operator=(const BlockTracker&) = delete;
  BlockTracker(BlockTracker&&) = default;
  BlockTracker& operator=(BlockTracker&&) = default;

  // Accepts the blocks of `attempt` of `map`; `attempt_blocks` is its block count over all
  // partitions (MapStatus::total_blocks()). Adding the same attempt again changes nothing.
  void Accept(core::MapId map, core::AttemptId attempt, uint64_t attempt_blocks);

  // The slot of (map, attempt), or kUnknown when no status accepted it.
  Slot Find(uint32_t map, uint32_t attempt) const;

  // REQUIRES: `slot` came from Find() and is not kUnknown.
  bool Delivered(Slot slot, uint32_t seq) const;
  // Records a delivery. REQUIRES: as for Delivered(), and !Delivered(slot, seq).
  void MarkDelivered(Slot slot, uint32_t seq);

  // Blocks marked delivered so far.
  uint64_t delivered() const { return delivered_; }

 private:
  struct Range {
    uint64_t first_bit = 0;
    uint64_t bits = 0;
  };
  static uint64_t Key(uint32_t high, uint32_t low) { return (uint64_t{high} << 32) | low; }

  absl::flat_hash_map<uint64_t, Slot> slots_;  // (map, attempt) -> index into ranges_
  std::vector<Range> ranges_;
  std::vector<uint64_t> bitmap_;
  uint64_t bitmap_bits_ = 0;
  absl::flat_hash_set<uint64_t> outside_;  // (slot, seq) beyond the slot's range
  uint64_t delivered_ = 0;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_BLOCK_TRACKER_H_
