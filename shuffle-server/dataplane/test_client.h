// TestClient: a raw, blocking data-plane client for tests. It writes arbitrary bytes or
// well-formed frames and reads frames back with a deadline, so tests can drive the server
// byte by byte (pipelining, malformed frames, clients that stop reading). Over TCP in the TLS
// run of the integration suites (tests/support/tls_run.h) the same bytes go through TLS, checked
// against the run's CA. Not thread-safe.
#ifndef SHUFFLE_SERVER_DATAPLANE_TEST_CLIENT_H_
#define SHUFFLE_SERVER_DATAPLANE_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"
#include "google/protobuf/message_lite.h"
#include "shuffle/core/frame.h"

namespace shuffle::dataplane::testing {

class TestClient {
 public:
  // `receive_buffer` > 0 sets SO_RCVBUF before connecting (a small one makes a slow reader).
  static absl::StatusOr<std::unique_ptr<TestClient>> ConnectTcp(uint16_t port,
                                                                int receive_buffer = 0);
  static absl::StatusOr<std::unique_ptr<TestClient>> ConnectUnix(const std::string& path);

  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  absl::Status SendRaw(std::string_view bytes);
  absl::Status SendFrame(core::FrameType type, uint64_t request_id,
                         const google::protobuf::MessageLite& header,
                         std::string_view payload = {});
  // Half-closes: the server sees EOF.
  void ShutdownWrite();

  // The next frame, waiting at most `timeout`: DEADLINE_EXCEEDED when none came, UNAVAILABLE
  // when the server closed the connection.
  absl::StatusOr<core::Frame> ReadFrame(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

  // Reads until the server closes the connection (true) or `timeout` passes (false); the frames
  // received meanwhile are appended to `frames` when given.
  bool WaitForClose(std::chrono::milliseconds timeout, std::vector<core::Frame>* frames = nullptr);

 private:
  explicit TestClient(int fd);
  // Waits up to `timeout` for bytes and appends them to the decoder; false on timeout.
  absl::StatusOr<bool> Fill(std::chrono::steady_clock::time_point deadline);

  int fd_;
  tls::SslCtxPtr tls_context_;  // set in the TLS run, with ssl_
  tls::SslPtr ssl_;
  core::FrameDecoder decoder_;
  bool eof_ = false;
};

}  // namespace shuffle::dataplane::testing

#endif  // SHUFFLE_SERVER_DATAPLANE_TEST_CLIENT_H_
