// FetchFromServer: one server's share of a PartitionReader's fetch. Resolves the plan with a
// lookup first when it was made from map locations (fetch_plan.h), then sends one request for the
// reader's partitions and the maps the plan names, receives each FetchData frame straight into
// a recycled chunk, verifies and filters its blocks (fetch_chunk.h) and queues the chunk for
// the consumer. Retryable failures (server restart, overload, broken connection, timeout) are
// retried with exponential backoff on a new connection; the plan's BlockTracker, kept across
// retries, delivers every block once. When the server ends the fetch, exactly the blocks and
// bytes the map statuses promise must have arrived: anything else is DATA_LOSS, never silent.
//
// Runs on one of the reader's threads; the plan is that thread's alone while it runs.
#ifndef SHUFFLE_CLIENT_SERVER_FETCHER_H_
#define SHUFFLE_CLIENT_SERVER_FETCHER_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "shuffle-client/chunk_queue.h"
#include "shuffle-client/fetch_plan.h"
#include "shuffle-client/live_connections.h"
#include "shuffle/client/options.h"

namespace shuffle::client {

// What every fetcher of one reader shares. Pointers outlive the fetchers.
struct FetchScope {
  const ClientOptions* options = nullptr;
  const ShuffleHandle* shuffle = nullptr;
  uint32_t partition_begin = 0;
  uint32_t partition_end = 0;
  ChunkQueue* queue = nullptr;
  LiveConnections* live = nullptr;
  std::atomic<uint64_t>* retries = nullptr;  // counts every retry, for the reader's stats
};

// Delivers everything `plan` promises into scope.queue. CANCELLED once the reader closes;
// otherwise the last failure after the retries.
absl::Status FetchFromServer(const FetchScope& scope, ServerPlan* plan);

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_SERVER_FETCHER_H_
