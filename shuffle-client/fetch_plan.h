// The fetch plan of a PartitionReader: from the map statuses, what each server must deliver for
// partitions [begin, end): which maps (as a range for the request, and the accepted attempts in
// a BlockTracker) and exactly how many blocks and bytes. Maps with nothing in the range cost
// nothing. Pure functions; thread-safe.
#ifndef SHUFFLE_CLIENT_FETCH_PLAN_H_
#define SHUFFLE_CLIENT_FETCH_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle-client/block_tracker.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"

namespace shuffle::client {

struct ServerPlan {
  std::string address;
  uint32_t map_begin = UINT32_MAX;  // the maps the request covers: [map_begin, map_end)
  uint32_t map_end = 0;
  BlockTracker blocks;  // the attempts served from it; what was delivered, across retries
  uint64_t expected_blocks = 0;
  uint64_t expected_bytes = 0;
};

// One plan per server that holds data in the range, ordered by address. INVALID_ARGUMENT for a
// range outside the shuffle or a status of another shuffle or with too few partitions.
absl::StatusOr<std::vector<ServerPlan>> PlanFetch(const ShuffleHandle& shuffle, uint32_t begin,
                                                  uint32_t end,
                                                  const std::vector<MapStatus>& statuses);

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_FETCH_PLAN_H_
