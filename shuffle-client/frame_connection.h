// A blocking connection to a shuffle server's data plane that sends and receives frames
// (core/frame.h). Addresses are "host:port" or "unix:/path". Reads and writes time out after
// the configured I/O timeout (SO_RCVTIMEO / SO_SNDTIMEO). Not thread-safe: one user at a time.
#ifndef SHUFFLE_CLIENT_FRAME_CONNECTION_H_
#define SHUFFLE_CLIENT_FRAME_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "shuffle/core/frame.h"

namespace shuffle::client {

class FrameConnection {
 public:
  static absl::StatusOr<std::unique_ptr<FrameConnection>> Connect(const std::string& address,
                                                                  int64_t connect_timeout_ms,
                                                                  int64_t io_timeout_ms,
                                                                  uint32_t max_frame_payload);
  ~FrameConnection();
  FrameConnection(const FrameConnection&) = delete;
  FrameConnection& operator=(const FrameConnection&) = delete;

  // Sends one frame: `header` serialized, then `payload`.
  absl::Status Send(core::FrameType type, uint64_t request_id,
                    const google::protobuf::MessageLite& header, std::string_view payload = {});
  // Receives the next frame. UNAVAILABLE when the peer closed or the connection broke,
  // DEADLINE_EXCEEDED on timeout; decoding errors as the decoder reports them.
  absl::StatusOr<core::Frame> Receive();

  // Unblocks a Send or Receive in progress on another thread (they fail with UNAVAILABLE).
  void Shutdown();

  const std::string& address() const { return address_; }
  uint64_t NextRequestId() { return ++last_request_id_; }

 private:
  FrameConnection(int fd, std::string address, uint32_t max_frame_payload);
  int fd_;
  std::string address_;
  core::FrameDecoder decoder_;
  uint64_t last_request_id_ = 0;
};

// Converts an Error frame's header into the status it carries, annotated with the server.
absl::Status ErrorFrameToStatus(const core::Frame& frame, const std::string& address);

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_FRAME_CONNECTION_H_
