// RequestHandler: turns one decoded request frame (push, commit, fetch, lookup) into storage-engine
// calls and response frames. Runs on the server's worker threads, never on I/O threads, because
// engine calls block (Push waits for memory, Commit for durability, fetches read the disk).
//
// Thread-safe: one handler serves every connection concurrently; it holds no per-request state.
// ResponseWriter is implemented by the connection and is safe to call from any thread.
#ifndef SHUFFLE_SERVER_DATAPLANE_HANDLERS_H_
#define SHUFFLE_SERVER_DATAPLANE_HANDLERS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "shuffle-server/dataplane/options.h"
#include "shuffle-server/dataplane/out_frame.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/core/frame.h"
#include "shuffle/core/histogram.h"
#include "shuffle/proto/common.pb.h"

namespace shuffle::dataplane {

// Where a handler's response frames go: one client connection.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // Queues one frame for writing; never blocks. CANCELLED once the connection closed.
  virtual absl::Status Send(OutFrame frame) = 0;
  // The same, but first waits while the connection's unwritten responses exceed its cap
  // (fetch streaming). CANCELLED when the connection closes meanwhile.
  virtual absl::Status SendWithBackpressure(OutFrame frame) = 0;
  // The client, for messages: "tcp:10.0.0.5:41234" or "unix:/run/shuffle.sock#7".
  virtual const std::string& peer() const = 0;
};

// The single place where request credentials are checked: the token must be the one the control
// plane issued to this application (UNAUTHENTICATED / PERMISSION_DENIED otherwise). A null
// authority allows every request.
absl::Status Authorize(const security::TokenAuthority* authority,
                       const proto::Credentials& credentials);

// Encodes a kError frame answering `request_id` with `status`.
std::string EncodeErrorFrame(uint64_t request_id, const absl::Status& status);

class RequestHandler {
 public:
  // `engine` must outlive the handler.
  RequestHandler(storage::StorageEngine* engine, const DataPlaneOptions& options);

  // Handles a kPushRequest, kCommitRequest, kFetchRequest or kLookupRequest, writing its responses
  // to `out`.
  // A non-OK status is the request's failure; the caller answers it with a kError frame. A push's
  // payload is moved out of `frame` (the engine holds its large blocks without a copy); the
  // frame's type and request id stay.
  absl::Status Handle(core::Frame& frame, ResponseWriter& out) const;

  // Time spent handling requests (for a fetch: until its last frame was queued).
  struct Latencies {
    core::LatencyHistogram push;
    core::LatencyHistogram commit;
    core::LatencyHistogram fetch;
    core::LatencyHistogram lookup;
  };
  const Latencies& latencies() const { return latency_; }

  // The address MapStatus advertises (set once the server knows its bound port).
  void set_advertise_address(std::string address) { advertise_address_ = std::move(address); }
  // The control-plane address MapStatus advertises (empty: none).
  void set_control_address(std::string address) { control_address_ = std::move(address); }

 private:
  absl::Status HandlePush(core::Frame& frame, ResponseWriter& out) const;
  absl::Status HandleCommit(const core::Frame& frame, ResponseWriter& out) const;
  absl::Status HandleFetch(const core::Frame& frame, ResponseWriter& out) const;
  absl::Status HandleLookup(const core::Frame& frame, ResponseWriter& out) const;

  storage::StorageEngine* engine_;
  std::string node_name_;
  std::string advertise_address_;
  std::string control_address_;
  uint64_t fetch_frame_bytes_;
  const security::TokenAuthority* token_authority_;
  mutable Latencies latency_;
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_HANDLERS_H_
