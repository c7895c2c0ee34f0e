#include "shuffle-client/fetch_plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shuffle::client {

absl::StatusOr<std::vector<ServerPlan>> PlanFetch(const ShuffleHandle& shuffle, uint32_t begin,
                                                  uint32_t end,
                                                  const std::vector<MapStatus>& statuses) {
  if (begin >= end || end > shuffle.num_partitions) {
    return absl::InvalidArgumentError(absl::StrCat("partition range [", begin, ", ", end,
                                                   ") not within ", shuffle.num_partitions,
                                                   " partitions"));
  }
  std::map<std::string, ServerPlan> by_server;
  for (const MapStatus& s : statuses) {
    if (s.shuffle != shuffle.shuffle || s.partition_blocks.size() < end ||
        s.partition_bytes.size() < end) {
      return absl::InvalidArgumentError(
          absl::StrCat("map status of map ", s.map.value(), " does not belong to shuffle ",
                       shuffle.shuffle.value(), " with ", shuffle.num_partitions, " partitions"));
    }
    uint64_t blocks = 0;
    uint64_t bytes = 0;
    for (uint32_t p = begin; p < end; ++p) {
      blocks += s.partition_blocks[p];
      bytes += s.partition_bytes[p];
    }
    if (blocks == 0) {
      continue;
    }
    ServerPlan& plan = by_server[s.address];
    plan.address = s.address;
    plan.map_begin = std::min(plan.map_begin, s.map.value());
    plan.map_end = std::max(plan.map_end, s.map.value() + 1);
    plan.blocks.Accept(s.map, s.attempt, s.total_blocks());
    plan.expected_blocks += blocks;
    plan.expected_bytes += bytes;
  }
  std::vector<ServerPlan> plans;
  plans.reserve(by_server.size());
  for (auto& [address, plan] : by_server) {
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace shuffle::client
