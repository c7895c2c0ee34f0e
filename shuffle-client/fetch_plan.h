// The fetch plan of a PartitionReader: from the map statuses, what each server must deliver for
// partitions [begin, end): which maps (as a range for the request, and the accepted attempts in
// a BlockTracker) and exactly how many blocks and bytes. Maps with nothing in the range cost
// nothing. A reader opened with map locations instead of statuses (it knows which attempt of
// each map to read, not its sizes) gets plans that are resolved by a lookup on the server first
// (ResolveLookup). Pure functions; thread-safe.
#ifndef SHUFFLE_CLIENT_FETCH_PLAN_H_
#define SHUFFLE_CLIENT_FETCH_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle-client/block_tracker.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::client {

struct ServerPlan {
  std::string address;
  uint32_t map_begin = UINT32_MAX;  // the maps the request covers: [map_begin, map_end)
  uint32_t map_end = 0;
  BlockTracker blocks;  // the attempts served from it; what was delivered, across retries
  uint64_t expected_blocks = 0;
  uint64_t expected_bytes = 0;
  // The only maps the fetch asks for (empty: every map in [map_begin, map_end)).
  std::vector<uint32_t> map_ids;
  // Not yet resolved: the attempts to look up on the server before fetching (ResolveLookup
  // fills the fields above and clears this).
  std::vector<proto::MapAttempt> lookup;
};

// One plan per server that holds data in the range, ordered by address. INVALID_ARGUMENT for a
// range outside the shuffle or a status of another shuffle or with too few partitions.
absl::StatusOr<std::vector<ServerPlan>> PlanFetch(const ShuffleHandle& shuffle, uint32_t begin,
                                                  uint32_t end,
                                                  const std::vector<MapStatus>& statuses);

// One unresolved plan per server named in `maps` (ordered by address), to be resolved with the
// server's answer to a LookupRequest for plan.lookup. INVALID_ARGUMENT for a bad range, an empty
// address, or the same map listed twice.
absl::StatusOr<std::vector<ServerPlan>> PlanLookups(const ShuffleHandle& shuffle, uint32_t begin,
                                                    uint32_t end,
                                                    const std::vector<MapLocation>& maps);

// Resolves `plan` from the server's answer: every looked-up attempt must be the one the server
// serves for its map, else NOT_FOUND naming the map (its output is lost there, or was never
// committed there). Maps with nothing in the range are dropped from the fetch.
absl::Status ResolveLookup(const proto::LookupResponse& response, ServerPlan* plan);

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_FETCH_PLAN_H_
