// Counters of the Spark listener, for /metrics. Lock-free; thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_STATS_H_
#define SHUFFLE_SERVER_SPARKESS_STATS_H_

#include <atomic>
#include <cstdint>

namespace shuffle::sparkess {

struct SparkEssStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t registrations = 0;
  uint64_t registrations_refused = 0;
  uint64_t registered_executors = 0;
  uint64_t registered_applications = 0;
  uint64_t rpcs = 0;
  uint64_t rpc_failures = 0;
  uint64_t streams_opened = 0;
  uint64_t chunks_served = 0;
  uint64_t chunk_failures = 0;
  uint64_t blocks_served = 0;
  uint64_t bytes_served = 0;
  uint64_t sendfile_bytes = 0;
  uint64_t auth_successes = 0;
  uint64_t auth_failures = 0;
  uint64_t protocol_errors = 0;  // bad frames: connection closed
  uint64_t blocks_removed = 0;
  uint64_t applications_expired = 0;
  uint64_t corruption_diagnoses = 0;
};

struct SparkEssCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> registrations{0};
  std::atomic<uint64_t> registrations_refused{0};
  std::atomic<uint64_t> rpcs{0};
  std::atomic<uint64_t> rpc_failures{0};
  std::atomic<uint64_t> streams_opened{0};
  std::atomic<uint64_t> chunks_served{0};
  std::atomic<uint64_t> chunk_failures{0};
  std::atomic<uint64_t> blocks_served{0};
  std::atomic<uint64_t> bytes_served{0};
  std::atomic<uint64_t> sendfile_bytes{0};
  std::atomic<uint64_t> auth_successes{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> blocks_removed{0};
  std::atomic<uint64_t> applications_expired{0};
  std::atomic<uint64_t> corruption_diagnoses{0};

  void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  SparkEssStats Snapshot() const;
};

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_STATS_H_
