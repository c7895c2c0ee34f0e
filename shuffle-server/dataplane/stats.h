// Data-plane counters. DataPlaneCounters is the live, lock-free set the server updates from any
// thread (relaxed atomics); DataPlaneStats is a plain snapshot of it, returned by
// DataPlaneServer::stats() and exported to Prometheus by a later issue.
#ifndef SHUFFLE_SERVER_DATAPLANE_STATS_H_
#define SHUFFLE_SERVER_DATAPLANE_STATS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shuffle/core/frame.h"
#include "shuffle/core/gate.h"
#include "shuffle/core/histogram.h"

namespace shuffle::dataplane {

// Indexed by the frame type's wire value (index 0 counts frames of unknown type).
inline constexpr size_t kFrameTypeSlots = core::kMaxFrameType + 1;
// Indexed by absl::StatusCode (0..16).
inline constexpr size_t kStatusCodeSlots = 17;

struct DataPlaneStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t connections_closed_idle = 0;
  uint64_t connections_closed_slow = 0;
  // Connections closed because their byte stream broke the protocol (bad frame, response type).
  uint64_t connections_closed_protocol = 0;

  std::array<uint64_t, kFrameTypeSlots> frames_in{};
  std::array<uint64_t, kFrameTypeSlots> frames_out{};
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // Of bytes_out, the fetch payload bytes sent from segment files with sendfile.
  uint64_t sendfile_bytes = 0;
  // Times a sendfile found the socket full and waited for it to become writable.
  uint64_t sendfile_waits = 0;
  // The send buffer the kernel grants each Unix-socket connection when the server asks for one
  // (DataPlaneOptions::unix_send_buffer_bytes); 0 when it does not ask or has no Unix socket.
  uint64_t unix_send_buffer_bytes = 0;
  // kError frames sent, by status code.
  std::array<uint64_t, kStatusCodeSlots> errors{};
  // TLS handshakes completed and failed (wrong CA, old protocol version, no client certificate).
  uint64_t tls_handshakes = 0;
  uint64_t tls_handshake_failures = 0;

  // Times a connection's reading was paused by a limit.
  uint64_t paused_in_flight = 0;
  uint64_t paused_pending_writes = 0;
  uint64_t paused_request_budget = 0;
  // Times a fetch stream waited for its connection's pending writes to drain.
  uint64_t fetch_waits = 0;

  uint64_t requests_in_flight = 0;
  // Response bytes queued and not yet written, over all connections; the largest amount one
  // connection ever held.
  uint64_t pending_write_bytes = 0;
  uint64_t max_connection_pending_write_bytes = 0;
  // Request bytes (headers and payloads) buffered now, and the most ever.
  uint64_t request_buffer_bytes = 0;
  uint64_t max_request_buffer_bytes = 0;
  // Request handling time, by request kind.
  core::LatencyHistogram::Snapshot push_latency;
  core::LatencyHistogram::Snapshot commit_latency;
  core::LatencyHistogram::Snapshot fetch_latency;
  core::LatencyHistogram::Snapshot lookup_latency;
};

struct DataPlaneCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_closed_idle{0};
  std::atomic<uint64_t> connections_closed_slow{0};
  std::atomic<uint64_t> connections_closed_protocol{0};
  std::array<std::atomic<uint64_t>, kFrameTypeSlots> frames_in{};
  std::array<std::atomic<uint64_t>, kFrameTypeSlots> frames_out{};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> sendfile_bytes{0};
  std::atomic<uint64_t> sendfile_waits{0};
  std::array<std::atomic<uint64_t>, kStatusCodeSlots> errors{};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> paused_in_flight{0};
  std::atomic<uint64_t> paused_pending_writes{0};
  std::atomic<uint64_t> paused_request_budget{0};
  std::atomic<uint64_t> fetch_waits{0};
  core::Gate requests;  // requests being handled; Drain() waits for none
  std::atomic<uint64_t> pending_write_bytes{0};
  std::atomic<uint64_t> max_connection_pending_write_bytes{0};

  static void Add(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  static void Sub(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.fetch_sub(n, std::memory_order_relaxed);
  }
  static void Max(std::atomic<uint64_t>& counter, uint64_t value) {
    uint64_t seen = counter.load(std::memory_order_relaxed);
    while (seen < value && !counter.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }
  void CountFrameIn(uint8_t type) { Add(frames_in[type < kFrameTypeSlots ? type : 0]); }
  void CountFrameOut(uint8_t type) { Add(frames_out[type < kFrameTypeSlots ? type : 0]); }
  void CountError(int code) {
    Add(errors[code >= 0 && static_cast<size_t>(code) < kStatusCodeSlots ? code : 2]);
  }

  // Everything but the request-buffer figures, which the server fills from its budget.
  DataPlaneStats Snapshot() const;
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_STATS_H_
