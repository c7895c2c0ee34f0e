#include "shuffle-client/fetch_plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
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

absl::StatusOr<std::vector<ServerPlan>> PlanLookups(const ShuffleHandle& shuffle, uint32_t begin,
                                                    uint32_t end,
                                                    const std::vector<MapLocation>& maps) {
  if (begin >= end || end > shuffle.num_partitions) {
    return absl::InvalidArgumentError(absl::StrCat("partition range [", begin, ", ", end,
                                                   ") not within ", shuffle.num_partitions,
                                                   " partitions"));
  }
  std::map<std::string, ServerPlan> by_server;
  absl::flat_hash_set<uint32_t> seen;
  for (const MapLocation& m : maps) {
    if (m.address.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("map ", m.map.value(), " has no server address"));
    }
    if (!seen.insert(m.map.value()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "map ", m.map.value(), " is listed twice; name one attempt of each map to read"));
    }
    ServerPlan& plan = by_server[m.address];
    plan.address = m.address;
    proto::MapAttempt& wanted = plan.lookup.emplace_back();
    wanted.set_map_id(m.map.value());
    wanted.set_attempt(m.attempt.value());
  }
  std::vector<ServerPlan> plans;
  plans.reserve(by_server.size());
  for (auto& [address, plan] : by_server) {
    plans.push_back(std::move(plan));
  }
  return plans;
}

absl::Status ResolveLookup(const proto::LookupResponse& response, ServerPlan* plan) {
  if (response.maps_size() != static_cast<int>(plan->lookup.size())) {
    return absl::InternalError(absl::StrCat("shuffle server ", plan->address,
                                            " answered a lookup of ", plan->lookup.size(),
                                            " maps with ", response.maps_size()));
  }
  for (int i = 0; i < response.maps_size(); ++i) {
    const proto::MapAttempt& wanted = plan->lookup[i];
    const proto::MapHolding& held = response.maps(i);
    if (held.map_id() != wanted.map_id()) {
      return absl::InternalError(absl::StrCat("shuffle server ", plan->address,
                                              " answered a lookup of map ", wanted.map_id(),
                                              " with map ", held.map_id()));
    }
    if (!held.committed() || held.attempt() != wanted.attempt()) {
      return absl::NotFoundError(absl::StrCat(
          "the shuffle server at ", plan->address, " does not hold attempt ", wanted.attempt(),
          " of map ", wanted.map_id(),
          held.committed() ? absl::StrCat(" (it serves attempt ", held.attempt(), ")")
                           : std::string(" (it holds no committed output of that map)"),
          ": the output was lost there; the map must run again"));
    }
    if (held.blocks() == 0) {
      continue;
    }
    plan->map_begin = std::min(plan->map_begin, held.map_id());
    plan->map_end = std::max(plan->map_end, held.map_id() + 1);
    plan->map_ids.push_back(held.map_id());
    plan->blocks.Accept(core::MapId(held.map_id()), core::AttemptId(held.attempt()),
                        held.attempt_blocks());
    plan->expected_blocks += held.blocks();
    plan->expected_bytes += held.bytes();
  }
  plan->lookup.clear();
  return absl::OkStatus();
}

}  // namespace shuffle::client
