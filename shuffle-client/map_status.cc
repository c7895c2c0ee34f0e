#include "shuffle/client/map_status.h"

#include "absl/status/status.h"
#include "shuffle/proto/common.pb.h"

namespace shuffle::client {

uint64_t MapStatus::total_bytes() const {
  uint64_t total = 0;
  for (uint64_t b : partition_bytes) {
    total += b;
  }
  return total;
}

uint64_t MapStatus::total_blocks() const {
  uint64_t total = 0;
  for (uint32_t b : partition_blocks) {
    total += b;
  }
  return total;
}

std::string MapStatus::Serialize() const {
  proto::MapStatus p;
  p.set_node(node);
  p.set_address(address);
  p.set_control_address(control_address);
  p.set_shuffle_id(shuffle.value());
  p.set_map_id(map.value());
  p.set_attempt(attempt.value());
  for (uint64_t b : partition_bytes) {
    p.add_partition_bytes(b);
  }
  for (uint32_t b : partition_blocks) {
    p.add_partition_blocks(b);
  }
  return p.SerializeAsString();
}

absl::StatusOr<MapStatus> MapStatus::Parse(std::string_view bytes) {
  proto::MapStatus p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      p.partition_bytes_size() != p.partition_blocks_size()) {
    return absl::InvalidArgumentError("not a valid serialized MapStatus");
  }
  MapStatus s;
  s.node = p.node();
  s.address = p.address();
  s.control_address = p.control_address();
  s.shuffle = core::ShuffleId(p.shuffle_id());
  s.map = core::MapId(p.map_id());
  s.attempt = core::AttemptId(p.attempt());
  s.partition_bytes.assign(p.partition_bytes().begin(), p.partition_bytes().end());
  s.partition_blocks.assign(p.partition_blocks().begin(), p.partition_blocks().end());
  return s;
}

}  // namespace shuffle::client
