#include "shuffle/client/shuffle_registry.h"

#include "absl/strings/str_cat.h"

namespace shuffle::client {

ShuffleRegistry::ShuffleRegistry(core::ShuffleId shuffle, uint32_t num_maps,
                                 uint32_t num_partitions)
    : shuffle_(shuffle), num_partitions_(num_partitions), statuses_(num_maps) {}

absl::StatusOr<bool> ShuffleRegistry::Register(const MapStatus& status) {
  if (status.shuffle != shuffle_ || status.map.value() >= statuses_.size() ||
      status.partition_bytes.size() != num_partitions_ ||
      status.partition_blocks.size() != num_partitions_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "map status of shuffle ", status.shuffle.value(), " map ", status.map.value(), " with ",
        status.partition_bytes.size(), " partitions does not fit shuffle ", shuffle_.value(),
        " of ", statuses_.size(), " maps and ", num_partitions_, " partitions"));
  }
  std::optional<MapStatus>& slot = statuses_[status.map.value()];
  if (slot.has_value()) {
    return false;
  }
  slot = status;
  ++registered_;
  return true;
}

absl::StatusOr<bool> ShuffleRegistry::Move(std::string_view from_node, const MapStatus& status) {
  if (status.map.value() < statuses_.size()) {
    std::optional<MapStatus>& slot = statuses_[status.map.value()];
    if (slot.has_value() && slot->node == from_node && status.node != from_node) {
      slot.reset();
      --registered_;
    }
  }
  return Register(status);
}

template <typename Pred>
std::vector<core::MapId> ShuffleRegistry::RemoveIf(Pred pred) {
  std::vector<core::MapId> lost;
  for (std::optional<MapStatus>& slot : statuses_) {
    if (slot.has_value() && pred(*slot)) {
      lost.push_back(slot->map);
      slot.reset();
      --registered_;
    }
  }
  return lost;
}

std::vector<core::MapId> ShuffleRegistry::RemoveOutputsOnNode(std::string_view node) {
  return RemoveIf([node](const MapStatus& s) { return s.node == node; });
}

std::vector<core::MapId> ShuffleRegistry::RemoveOutputsAt(std::string_view address) {
  return RemoveIf([address](const MapStatus& s) { return s.address == address; });
}

std::vector<MapStatus> ShuffleRegistry::Statuses() const {
  std::vector<MapStatus> out;
  out.reserve(registered_);
  for (const std::optional<MapStatus>& slot : statuses_) {
    if (slot.has_value()) {
      out.push_back(*slot);
    }
  }
  return out;
}

uint64_t ShuffleRegistry::TotalBytes() const {
  uint64_t total = 0;
  for (const std::optional<MapStatus>& slot : statuses_) {
    if (slot.has_value()) {
      total += slot->total_bytes();
    }
  }
  return total;
}

}  // namespace shuffle::client
