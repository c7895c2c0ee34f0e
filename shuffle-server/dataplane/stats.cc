#include "shuffle-server/dataplane/stats.h"

namespace shuffle::dataplane {
namespace {

uint64_t Load(const std::atomic<uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace

DataPlaneStats DataPlaneCounters::Snapshot() const {
  DataPlaneStats s;
  s.connections_accepted = Load(connections_accepted);
  s.connections_open = Load(connections_open);
  s.connections_closed_idle = Load(connections_closed_idle);
  s.connections_closed_slow = Load(connections_closed_slow);
  s.connections_closed_protocol = Load(connections_closed_protocol);
  for (size_t i = 0; i < kFrameTypeSlots; ++i) {
    s.frames_in[i] = Load(frames_in[i]);
    s.frames_out[i] = Load(frames_out[i]);
  }
  s.bytes_in = Load(bytes_in);
  s.bytes_out = Load(bytes_out);
  s.sendfile_bytes = Load(sendfile_bytes);
  s.sendfile_waits = Load(sendfile_waits);
  for (size_t i = 0; i < kStatusCodeSlots; ++i) {
    s.errors[i] = Load(errors[i]);
  }
  s.tls_handshakes = Load(tls_handshakes);
  s.tls_handshake_failures = Load(tls_handshake_failures);
  s.paused_in_flight = Load(paused_in_flight);
  s.paused_pending_writes = Load(paused_pending_writes);
  s.paused_request_budget = Load(paused_request_budget);
  s.fetch_waits = Load(fetch_waits);
  s.requests_in_flight = static_cast<uint64_t>(requests.in_flight());
  s.pending_write_bytes = Load(pending_write_bytes);
  s.max_connection_pending_write_bytes = Load(max_connection_pending_write_bytes);
  return s;
}

}  // namespace shuffle::dataplane
