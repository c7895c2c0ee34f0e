// A blocking connection to a shuffle server's data plane that sends and receives frames
// (core/frame.h). Addresses are "host:port" or "unix:/path". Reads and writes time out after
// the configured I/O timeout (SO_RCVTIMEO / SO_SNDTIMEO). A frame's payload is received straight
// into the caller's buffer (one copy from the kernel), so a reader can hand the buffer on instead
// of copying blocks out of it. After an error in the middle of a frame the stream cannot be
// resynchronised: every later Receive fails the same way and the connection must be closed.
// With TLS files, a TCP connection runs a TLS handshake first (core/tls) and then carries its
// frames in TLS records; a Unix-socket connection stays plaintext.
// Not thread-safe: one user at a time (Shutdown() excepted).
#ifndef SHUFFLE_CLIENT_FRAME_CONNECTION_H_
#define SHUFFLE_CLIENT_FRAME_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"
#include "google/protobuf/message_lite.h"
#include "shuffle-client/byte_buffer.h"
#include "shuffle/client/options.h"
#include "shuffle/core/frame.h"

namespace shuffle::client {

// A received frame without its payload; `header` is valid until the next receive.
struct FrameHead {
  core::FrameType type = core::FrameType::kPing;
  uint16_t flags = 0;
  uint64_t request_id = 0;
  std::string_view header;  // serialized protobuf header
};

class FrameConnection {
 public:
  static absl::StatusOr<std::unique_ptr<FrameConnection>> Connect(const std::string& address,
                                                                  int64_t connect_timeout_ms,
                                                                  int64_t io_timeout_ms,
                                                                  uint32_t max_frame_payload,
                                                                  const tls::ClientFiles& tls = {});
  ~FrameConnection();
  FrameConnection(const FrameConnection&) = delete;
  FrameConnection& operator=(const FrameConnection&) = delete;

  // Sends one frame: `header` serialized, then `payload`.
  absl::Status Send(core::FrameType type, uint64_t request_id,
                    const google::protobuf::MessageLite& header, std::string_view payload = {});
  // Receives the next frame. UNAVAILABLE when the peer closed or the connection broke,
  // DEADLINE_EXCEEDED on timeout; decoding errors as the decoder reports them.
  absl::StatusOr<core::Frame> Receive();
  // Receives the next frame with its payload in `*payload` (resized to the payload's size).
  // Errors as for Receive().
  absl::StatusOr<FrameHead> ReceiveInto(ByteBuffer* payload);

  // Unblocks a Send or Receive in progress on another thread (they fail with UNAVAILABLE).
  void Shutdown();

  const std::string& address() const { return address_; }
  // The socket, for tests that speak another protocol over a connection dialled here.
  int fd_for_testing() const { return fd_; }
  uint64_t NextRequestId() { return ++last_request_id_; }

 private:
  FrameConnection(int fd, std::string address, uint32_t max_frame_payload, tls::SslPtr ssl);
  // Writes all of `data` through TLS.
  absl::Status SendTls(std::string_view data);
  // One recv() of at most `len` bytes (at least one).
  absl::StatusOr<size_t> RecvSome(char* dst, size_t len, int flags);
  // Until at least `n` bytes are staged. REQUIRES: n <= kStageSize.
  absl::Status Stage(size_t n);
  // Exactly `len` bytes: the staged ones first, the rest straight from the socket.
  absl::Status ReadExact(char* dst, size_t len);
  absl::StatusOr<FrameHead> ReceiveFrame(ByteBuffer* payload);

  // Frame prefixes and small headers are read ahead in one recv(); payloads are not.
  static constexpr size_t kStageSize = 64 << 10;

  int fd_;
  tls::SslPtr ssl_;  // null: plaintext
  std::string address_;
  core::FrameLimits limits_;
  std::unique_ptr<char[]> stage_;
  size_t stage_begin_ = 0;  // staged bytes are [stage_begin_, stage_end_)
  size_t stage_end_ = 0;
  std::string header_;   // the last frame's header
  absl::Status broken_;  // sticky: set by a failure in the middle of a frame
  uint64_t last_request_id_ = 0;
};

// The TLS settings of `options` (ca_file empty: plaintext).
tls::ClientFiles TlsFiles(const ClientOptions& options);

// Converts an Error frame's header into the status it carries, annotated with the server.
absl::Status ErrorFrameToStatus(std::string_view header, const std::string& address);
inline absl::Status ErrorFrameToStatus(const core::Frame& frame, const std::string& address) {
  return ErrorFrameToStatus(frame.header, address);
}

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_FRAME_CONNECTION_H_
