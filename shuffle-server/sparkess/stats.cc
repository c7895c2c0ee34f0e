#include "shuffle-server/sparkess/stats.h"

namespace shuffle::sparkess {

SparkEssStats SparkEssCounters::Snapshot() const {
  const auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  SparkEssStats s;
  s.connections_accepted = get(connections_accepted);
  s.connections_open = get(connections_open);
  s.registrations = get(registrations);
  s.registrations_refused = get(registrations_refused);
  s.rpcs = get(rpcs);
  s.rpc_failures = get(rpc_failures);
  s.streams_opened = get(streams_opened);
  s.chunks_served = get(chunks_served);
  s.chunk_failures = get(chunk_failures);
  s.blocks_served = get(blocks_served);
  s.bytes_served = get(bytes_served);
  s.sendfile_bytes = get(sendfile_bytes);
  s.auth_successes = get(auth_successes);
  s.auth_failures = get(auth_failures);
  s.protocol_errors = get(protocol_errors);
  s.blocks_removed = get(blocks_removed);
  s.applications_expired = get(applications_expired);
  s.corruption_diagnoses = get(corruption_diagnoses);
  return s;
}

}  // namespace shuffle::sparkess
