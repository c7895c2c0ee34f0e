// DataPlaneOptions: how the data-plane server listens, how many threads it runs and the limits
// that keep its memory bounded whatever clients do. A plain value; copy it freely.
#ifndef SHUFFLE_SERVER_DATAPLANE_OPTIONS_H_
#define SHUFFLE_SERVER_DATAPLANE_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "shuffle/core/frame.h"

namespace shuffle::security {
class TokenAuthority;
}  // namespace shuffle::security

namespace shuffle::tls {
class ReloadingServerContext;
}  // namespace shuffle::tls

namespace shuffle::dataplane {

struct DataPlaneOptions {
  // TCP address "host:port" (IPv6 as "[::1]:port"); port 0 picks a free port. Empty: no TCP.
  std::string listen_address;
  // Unix domain socket path; a stale socket file there is replaced, and the socket is made
  // world-writable (0666) so executor pods sharing the node can connect. Empty: no Unix socket.
  std::string socket_path;

  // Threads running the sockets (never block) and threads running storage-engine calls (block).
  uint32_t io_threads = 2;
  uint32_t worker_threads = 4;

  // Largest header and payload a client may send; refused from the frame prefix alone.
  core::FrameLimits frame_limits;
  // A connection is not read while this many of its requests are being handled.
  uint32_t max_in_flight_per_connection = 32;
  // A connection is not read, and its fetch streams wait, while it has more than this many bytes
  // of responses not yet written to its socket.
  uint64_t max_pending_write_bytes = 8u << 20;
  // Request headers and payloads buffered across all connections; a connection whose next frame
  // does not fit waits (without reading it) until others' requests finish.
  uint64_t request_buffer_budget_bytes = 256u << 20;

  // Closes a connection that completed no frame for this long while it had nothing in flight.
  std::chrono::milliseconds idle_timeout{300'000};
  // Closes a connection whose pending responses made no write progress for this long.
  std::chrono::milliseconds slow_client_timeout{30'000};

  // Target payload size of one kFetchData frame (a larger block travels alone in its frame).
  uint64_t fetch_frame_bytes = 1u << 20;

  // Send buffer asked for on every accepted Unix-socket connection (0: the kernel's default,
  // net.core.wmem_default, 208 KiB on most machines). A Unix stream has no buffer autotuning and
  // its whole window is the sender's buffer: with the default, a hot fetch stalls every 208 KiB
  // until the reducer drains it (docs/performance.md). The kernel caps the size at
  // net.core.wmem_max unless the server may exceed it (CAP_NET_ADMIN: SO_SNDBUFFORCE).
  uint64_t unix_send_buffer_bytes = 4u << 20;

  // Copied into every MapStatus this server returns: its node name and the data-plane address
  // readers should connect to (default: listen_address with the bound port).
  std::string node_name;
  std::string advertise_address;
  // The control plane's port, advertised in map statuses with the data plane's advertised host
  // (0: map statuses carry no control address).
  uint16_t control_port = 0;

  // Checks every request's application token. Null: the server is unauthenticated (it says so
  // loudly at start). Must outlive the server.
  const security::TokenAuthority* token_authority = nullptr;

  // TLS on the TCP listener (the Unix socket stays plaintext: local, and guarded by its file's
  // permissions). Each accepted connection keeps the context current when it was accepted, so a
  // rotated certificate reaches new connections only. Null: plaintext. Must outlive the server.
  tls::ReloadingServerContext* tls = nullptr;
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_OPTIONS_H_
