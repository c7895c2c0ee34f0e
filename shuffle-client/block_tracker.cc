#include "shuffle-client/block_tracker.h"

namespace shuffle::client {

void BlockTracker::Accept(core::MapId map, core::AttemptId attempt, uint64_t attempt_blocks) {
  auto [it, inserted] =
      slots_.try_emplace(Key(map.value(), attempt.value()), static_cast<Slot>(ranges_.size()));
  if (!inserted) {
    return;
  }
  ranges_.push_back(Range{.first_bit = bitmap_bits_, .bits = attempt_blocks});
  bitmap_bits_ += attempt_blocks;
  bitmap_.resize((bitmap_bits_ + 63) / 64, 0);
}

BlockTracker::Slot BlockTracker::Find(uint32_t map, uint32_t attempt) const {
  auto it = slots_.find(Key(map, attempt));
  return it == slots_.end() ? kUnknown : it->second;
}

bool BlockTracker::Delivered(Slot slot, uint32_t seq) const {
  const Range& range = ranges_[static_cast<size_t>(slot)];
  if (seq >= range.bits) {
    return outside_.contains(Key(static_cast<uint32_t>(slot), seq));
  }
  const uint64_t bit = range.first_bit + seq;
  return (bitmap_[bit / 64] >> (bit % 64)) & 1;
}

void BlockTracker::MarkDelivered(Slot slot, uint32_t seq) {
  ++delivered_;
  const Range& range = ranges_[static_cast<size_t>(slot)];
  if (seq >= range.bits) {
    outside_.insert(Key(static_cast<uint32_t>(slot), seq));
    return;
  }
  const uint64_t bit = range.first_bit + seq;
  bitmap_[bit / 64] |= uint64_t{1} << (bit % 64);
}

}  // namespace shuffle::client
