#include "shuffle-server/dataplane/test_client.h"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shuffle/core/errno_status.h"
#include "tests/support/tls_run.h"

namespace shuffle::dataplane::testing {
namespace {

core::FrameLimits ClientLimits() {
  core::FrameLimits limits;
  limits.max_payload_size = 256u << 20;
  return limits;
}

// One SSL_read: the byte count, 0 at the end of the stream or on an error, -1 when the record
// is not complete yet (the caller polls again).
ssize_t ReadTls(SSL* ssl, char* buffer, int size) {
  const int n = SSL_read(ssl, buffer, size);
  if (n > 0) {
    return n;
  }
  const int err = SSL_get_error(ssl, n);
  ERR_clear_error();
  return err == SSL_ERROR_WANT_READ ? -1 : 0;
}

}  // namespace

TestClient::TestClient(int fd) : fd_(fd), decoder_(ClientLimits()) {}

TestClient::~TestClient() {
  ssl_.reset();
  close(fd_);
}

absl::StatusOr<std::unique_ptr<TestClient>> TestClient::ConnectTcp(uint16_t port,
                                                                   int receive_buffer) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return core::ErrnoToStatus(errno, "socket", "tcp");
  }
  if (receive_buffer > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return core::ErrnoToStatus(err, "connect", "127.0.0.1:" + std::to_string(port));
  }
  auto client = std::unique_ptr<TestClient>(new TestClient(fd));
  if (testsupport::TlsRun()) {
    const tls::ClientFiles files = testsupport::RunClientTls();
    absl::StatusOr<tls::SslCtxPtr> context = tls::NewClientContext(files);
    if (!context.ok()) {
      return context.status();
    }
    client->tls_context_ = *std::move(context);
    absl::StatusOr<tls::SslPtr> ssl = tls::ClientHandshake(
        fd, client->tls_context_.get(), files, "127.0.0.1", "127.0.0.1:" + std::to_string(port));
    if (!ssl.ok()) {
      return ssl.status();
    }
    client->ssl_ = *std::move(ssl);
  }
  return client;
}

absl::StatusOr<std::unique_ptr<TestClient>> TestClient::ConnectUnix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return core::ErrnoToStatus(errno, "socket", "unix");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return core::ErrnoToStatus(err, "connect", path);
  }
  return std::unique_ptr<TestClient>(new TestClient(fd));
}

absl::Status TestClient::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    if (ssl_ != nullptr) {
      const int n = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) {
        return absl::UnavailableError("TLS write: " + tls::DrainOpenSslErrors("connection closed"));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return core::ErrnoToStatus(errno, "send", "test connection");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status TestClient::SendFrame(core::FrameType type, uint64_t request_id,
                                   const google::protobuf::MessageLite& header,
                                   std::string_view payload) {
  return SendRaw(core::EncodeFrame(type, request_id, header.SerializeAsString(), payload));
}

void TestClient::ShutdownWrite() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_.get());  // close_notify: TLS's end of the stream
  }
  shutdown(fd_, SHUT_WR);
}

absl::StatusOr<bool> TestClient::Fill(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) {
    return false;
  }
  pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
  // Bytes TLS already decrypted are not on the socket any more.
  const bool buffered = ssl_ != nullptr && SSL_has_pending(ssl_.get()) == 1;
  const int ready = buffered ? 1 : poll(&pfd, 1, static_cast<int>(left.count()));
  if (ready < 0) {
    return errno == EINTR ? absl::StatusOr<bool>(true)
                          : absl::StatusOr<bool>(core::ErrnoToStatus(errno, "poll", "test"));
  }
  if (ready == 0) {
    return false;
  }
  std::array<char, 1 << 16> buffer{};
  const ssize_t n = ssl_ != nullptr
                        ? ReadTls(ssl_.get(), buffer.data(), static_cast<int>(buffer.size()))
                        : recv(fd_, buffer.data(), buffer.size(), 0);
  if (n < 0 && ssl_ != nullptr) {
    return true;  // part of a TLS record: more to come
  }
  if (n <= 0) {
    eof_ = true;  // orderly close or reset: either way the server is gone
    return true;
  }
  decoder_.Append(std::string_view(buffer.data(), static_cast<size_t>(n)));
  return true;
}

absl::StatusOr<core::Frame> TestClient::ReadFrame(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    absl::StatusOr<std::optional<core::Frame>> next = decoder_.Next();
    if (!next.ok()) {
      return next.status();
    }
    if (next->has_value()) {
      return std::move(**next);
    }
    if (eof_) {
      return absl::UnavailableError("server closed the connection");
    }
    absl::StatusOr<bool> filled = Fill(deadline);
    if (!filled.ok()) {
      return filled.status();
    }
    if (!*filled) {
      return absl::DeadlineExceededError("no frame before the deadline");
    }
  }
}

bool TestClient::WaitForClose(std::chrono::milliseconds timeout, std::vector<core::Frame>* frames) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    absl::StatusOr<core::Frame> frame = ReadFrame(left);
    if (frame.ok()) {
      if (frames != nullptr) {
        frames->push_back(*std::move(frame));
      }
      continue;
    }
    return absl::IsUnavailable(frame.status());
  }
  return false;
}

}  // namespace shuffle::dataplane::testing
