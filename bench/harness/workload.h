// The client side of the service scenarios, through the project's client library: map tasks
// that push blocks of an exact encoded size and commit them (several at once), and reducers that
// fetch partition ranges (several at once). Blocks are stored uncompressed, so the bytes measured
// are the bytes moved. Functions; each call owns its threads and joins them before returning.
#ifndef SHUFFLE_BENCH_HARNESS_WORKLOAD_H_
#define SHUFFLE_BENCH_HARNESS_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"

namespace shuffle::bench {

// Every map writes `blocks_per_map` blocks of exactly `block_bytes` encoded bytes (one record
// each); block k of map m goes to partition (m + k) % partitions.
struct MapShape {
  uint32_t maps = 0;
  uint32_t blocks_per_map = 0;
  uint32_t block_bytes = 0;  // REQUIRES: >= 48 (block header and a small record)
  uint32_t concurrency = 0;  // map writers running at once
};

struct WriteResult {
  std::vector<client::MapStatus> statuses;  // by map id
  uint64_t bytes = 0;                       // encoded bytes committed
  uint64_t blocks = 0;
  double seconds = 0;  // first open to last acknowledged commit
};

// Writes and commits every map of `shape` to `server` ("host:port" or "unix:PATH"); over TLS
// when `tls_ca_file` is set; with a second copy on `replica_server` when set (replicas=2).
absl::StatusOr<WriteResult> WriteMaps(const std::string& server,
                                      const client::ShuffleHandle& shuffle, const MapShape& shape,
                                      const std::string& tls_ca_file = "",
                                      const std::string& replica_server = "");

// Partitions [partition_begin, partition_end) are split into `readers` contiguous ranges, each
// fetched by its own PartitionReader at the same time.
struct FetchSpec {
  std::string server;  // every status's address is replaced by this one ("" keeps them)
  uint32_t partition_begin = 0;
  uint32_t partition_end = 0;
  uint32_t readers = 1;
  std::string tls_ca_file;  // set: fetch over TLS, checking the server with this CA
};

struct FetchResult {
  uint64_t bytes = 0;  // encoded block bytes received
  uint64_t blocks = 0;
  uint64_t records = 0;
  uint64_t retries = 0;  // the readers' retries (server restarts, overload)
  double seconds = 0;    // first open to last record consumed
};

absl::StatusOr<FetchResult> FetchPartitions(const client::ShuffleHandle& shuffle,
                                            const std::vector<client::MapStatus>& statuses,
                                            const FetchSpec& spec);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_WORKLOAD_H_
