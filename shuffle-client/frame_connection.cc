#include "shuffle-client/frame_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::client {
namespace {

void SetTimeouts(int fd, int64_t io_timeout_ms) {
  timeval tv{.tv_sec = io_timeout_ms / 1000,
             .tv_usec = static_cast<suseconds_t>((io_timeout_ms % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Non-blocking connect bounded by `timeout_ms`, then back to blocking mode.
absl::Status ConnectWithTimeout(int fd, const sockaddr* addr, socklen_t len,
                                const std::string& address, int64_t timeout_ms) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect(fd, addr, len);
  if (rc != 0 && errno != EINPROGRESS) {
    // Whatever the errno (ECONNREFUSED, or ENOENT for a Unix socket not yet re-created by a
    // restarting server), the server is unavailable: a retryable condition.
    return absl::UnavailableError(
        core::ErrnoToStatus(errno, "connect to shuffle server", address).message());
  }
  if (rc != 0) {
    pollfd pfd{.fd = fd, .events = POLLOUT, .revents = 0};
    rc = poll(&pfd, 1, static_cast<int>(timeout_ms));
    if (rc == 0) {
      return absl::UnavailableError(absl::StrCat("connect to shuffle server ", address,
                                                 ": no answer within ", timeout_ms, " ms"));
    }
    int err = 0;
    socklen_t err_len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) {
      return absl::UnavailableError(
          core::ErrnoToStatus(err, "connect to shuffle server", address).message());
    }
  }
  fcntl(fd, F_SETFL, flags);
  return absl::OkStatus();
}

absl::StatusOr<int> DialUnix(const std::string& address, const std::string& path,
                             int64_t timeout_ms) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());  // Endpoint bounds the length
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return core::ErrnoToStatus(errno, "socket", address);
  }
  absl::Status st = ConnectWithTimeout(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun),
                                       address, timeout_ms);
  if (!st.ok()) {
    close(fd);
    return st;
  }
  return fd;
}

absl::StatusOr<int> Dial(const std::string& address, int64_t timeout_ms) {
  absl::StatusOr<core::Endpoint> endpoint = core::Endpoint::Parse(address);
  if (!endpoint.ok()) {
    return core::Annotate(endpoint.status(), "shuffle server");
  }
  if (endpoint->is_unix()) {
    return DialUnix(address, endpoint->path(), timeout_ms);
  }
  if (endpoint->port() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shuffle server address \"", address, "\" has port 0"));
  }
  const std::string& host = endpoint->host();
  const uint16_t port = endpoint->port();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &result);
  if (gai != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve shuffle server host '", host, "': ", gai_strerror(gai)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", address));
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = core::ErrnoToStatus(errno, "socket", address);
      continue;
    }
    last = ConnectWithTimeout(fd, ai->ai_addr, ai->ai_addrlen, address, timeout_ms);
    if (last.ok()) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      freeaddrinfo(result);
      return fd;
    }
    close(fd);
  }
  freeaddrinfo(result);
  return last;
}

}  // namespace

tls::ClientFiles TlsFiles(const ClientOptions& options) {
  tls::ClientFiles files;
  files.ca_file = options.tls_ca_file;
  files.cert_file = options.tls_cert_file;
  files.key_file = options.tls_key_file;
  files.server_name = options.tls_server_name;
  return files;
}

absl::StatusOr<std::unique_ptr<FrameConnection>> FrameConnection::Connect(
    const std::string& address, int64_t connect_timeout_ms, int64_t io_timeout_ms,
    uint32_t max_frame_payload, const tls::ClientFiles& tls) {
  tls::SslCtxPtr ctx;
  std::string host;
  if (tls.enabled()) {
    absl::StatusOr<core::Endpoint> endpoint = core::Endpoint::Parse(address);
    if (endpoint.ok() && !endpoint->is_unix()) {
      SHUFFLE_ASSIGN_OR_RETURN(ctx, tls::SharedClientContext(tls));
      host = endpoint->host();
    }
  }
  SHUFFLE_ASSIGN_OR_RETURN(int fd, Dial(address, connect_timeout_ms));
  SetTimeouts(fd, io_timeout_ms);
  tls::SslPtr ssl;
  if (ctx != nullptr) {
    absl::StatusOr<tls::SslPtr> handshake = tls::ClientHandshake(fd, ctx.get(), tls, host, address);
    if (!handshake.ok()) {
      close(fd);
      return handshake.status();
    }
    ssl = *std::move(handshake);
  }
  return std::unique_ptr<FrameConnection>(
      new FrameConnection(fd, address, max_frame_payload, std::move(ssl)));
}

FrameConnection::FrameConnection(int fd, std::string address, uint32_t max_frame_payload,
                                 tls::SslPtr ssl)
    : fd_(fd),
      ssl_(std::move(ssl)),
      address_(std::move(address)),
      limits_(
          core::FrameLimits{.max_header_size = 1u << 20, .max_payload_size = max_frame_payload}),
      stage_(new char[kStageSize]) {}

FrameConnection::~FrameConnection() {
  ssl_.reset();  // no close_notify: the server treats the close like a plaintext one
  close(fd_);
}

void FrameConnection::Shutdown() { shutdown(fd_, SHUT_RDWR); }

absl::Status FrameConnection::Send(core::FrameType type, uint64_t request_id,
                                   const google::protobuf::MessageLite& header,
                                   std::string_view payload) {
  std::string head = core::EncodeFrameHead(type, request_id, header.SerializeAsString(),
                                           static_cast<uint32_t>(payload.size()));
  if (ssl_ != nullptr) {
    // Small frames go out as one record; a large payload follows its head in records of its own.
    if (payload.size() <= kStageSize) {
      head.append(payload);
      return SendTls(head);
    }
    SHUFFLE_RETURN_IF_ERROR(SendTls(head));
    return SendTls(payload);
  }
  iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                  {const_cast<char*>(payload.data()), payload.size()}};
  int iovcnt = payload.empty() ? 1 : 2;
  iovec* cur = iov;
  while (iovcnt > 0) {
    msghdr msg{};
    msg.msg_iov = cur;
    msg.msg_iovlen = static_cast<size_t>(iovcnt);
    const ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return absl::DeadlineExceededError(
            absl::StrCat("sending to shuffle server ", address_, ": timed out"));
      }
      return core::ErrnoToStatus(errno, "send to shuffle server", address_);
    }
    auto left = static_cast<size_t>(n);
    while (iovcnt > 0 && left >= cur->iov_len) {
      left -= cur->iov_len;
      ++cur;
      --iovcnt;
    }
    if (iovcnt > 0) {
      cur->iov_base = static_cast<char*>(cur->iov_base) + left;
      cur->iov_len -= left;
    }
  }
  return absl::OkStatus();
}

absl::Status FrameConnection::SendTls(std::string_view data) {
  while (!data.empty()) {
    ERR_clear_error();
    errno = 0;
    const int n = SSL_write(ssl_.get(), data.data(),
                            static_cast<int>(std::min<size_t>(data.size(), 1u << 30)));
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    if (errno == EINTR && err != SSL_ERROR_SSL) {
      continue;  // a signal interrupted the socket write
    }
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      return absl::DeadlineExceededError(
          absl::StrCat("sending to shuffle server ", address_, ": timed out"));
    }
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
      return core::ErrnoToStatus(errno, "send to shuffle server", address_);
    }
    return absl::UnavailableError(
        absl::StrCat("sending to shuffle server ", address_,
                     " over TLS failed: ", tls::DrainOpenSslErrors("connection closed")));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> FrameConnection::RecvSome(char* dst, size_t len, int flags) {
  if (ssl_ != nullptr) {  // whole records only: MSG_WAITALL has no meaning here
    for (;;) {
      ERR_clear_error();
      errno = 0;
      const int n = SSL_read(ssl_.get(), dst, static_cast<int>(std::min<size_t>(len, 1u << 30)));
      if (n > 0) {
        return static_cast<size_t>(n);
      }
      const int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0)) {
        return absl::UnavailableError(
            absl::StrCat("shuffle server ", address_, " closed the connection"));
      }
      // A signal interrupting the socket read looks like "try again" to OpenSSL.
      if ((err == SSL_ERROR_SYSCALL || err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
          errno == EINTR) {
        continue;
      }
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        return absl::DeadlineExceededError(
            absl::StrCat("waiting for shuffle server ", address_, ": timed out"));
      }
      if (err == SSL_ERROR_SYSCALL) {
        return core::ErrnoToStatus(errno, "receive from shuffle server", address_);
      }
      return absl::UnavailableError(absl::StrCat("receiving from shuffle server ", address_,
                                                 " over TLS failed: ", tls::DrainOpenSslErrors()));
    }
  }
  for (;;) {
    const ssize_t n = recv(fd_, dst, len, flags);
    if (n > 0) {
      return static_cast<size_t>(n);
    }
    if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("shuffle server ", address_, " closed the connection"));
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError(
          absl::StrCat("waiting for shuffle server ", address_, ": timed out"));
    }
    return core::ErrnoToStatus(errno, "receive from shuffle server", address_);
  }
}

absl::Status FrameConnection::Stage(size_t n) {
  if (stage_end_ - stage_begin_ >= n) {
    return absl::OkStatus();
  }
  if (stage_begin_ > 0) {
    std::memmove(stage_.get(), stage_.get() + stage_begin_, stage_end_ - stage_begin_);
    stage_end_ -= stage_begin_;
    stage_begin_ = 0;
  }
  while (stage_end_ < n) {
    SHUFFLE_ASSIGN_OR_RETURN(size_t got,
                             RecvSome(stage_.get() + stage_end_, kStageSize - stage_end_, 0));
    stage_end_ += got;
  }
  return absl::OkStatus();
}

absl::Status FrameConnection::ReadExact(char* dst, size_t len) {
  const size_t staged = std::min(len, stage_end_ - stage_begin_);
  if (staged > 0) {
    std::memcpy(dst, stage_.get() + stage_begin_, staged);
    stage_begin_ += staged;
  }
  // MSG_WAITALL: one system call for the rest of a large payload, not one per segment.
  for (size_t done = staged; done < len;) {
    SHUFFLE_ASSIGN_OR_RETURN(size_t got, RecvSome(dst + done, len - done, MSG_WAITALL));
    done += got;
  }
  return absl::OkStatus();
}

absl::StatusOr<FrameHead> FrameConnection::ReceiveFrame(ByteBuffer* payload) {
  // Nothing of the frame is consumed until its prefix is whole: a timeout here leaves the
  // stream intact.
  SHUFFLE_RETURN_IF_ERROR(Stage(core::kFramePrefixSize));
  char prefix_bytes[core::kFramePrefixSize];
  std::memcpy(prefix_bytes, stage_.get() + stage_begin_, sizeof(prefix_bytes));
  absl::StatusOr<core::FramePrefix> prefix =
      core::DecodeFramePrefix(std::string_view(prefix_bytes, sizeof(prefix_bytes)), limits_);
  if (!prefix.ok()) {
    broken_ = prefix.status();
    return broken_;
  }
  stage_begin_ += sizeof(prefix_bytes);
  header_.resize(prefix->header_size);
  absl::Status st = ReadExact(header_.data(), header_.size());
  if (st.ok()) {
    st = core::VerifyFrameHead(*prefix, std::string_view(prefix_bytes, sizeof(prefix_bytes)),
                               header_);
  }
  if (st.ok()) {
    payload->ResizeUninitialized(prefix->payload_size);
    st = ReadExact(payload->data(), payload->size());
  }
  if (!st.ok()) {
    broken_ = st;
    return st;
  }
  return FrameHead{.type = prefix->type,
                   .flags = prefix->flags,
                   .request_id = prefix->request_id,
                   .header = header_};
}

absl::StatusOr<FrameHead> FrameConnection::ReceiveInto(ByteBuffer* payload) {
  if (!broken_.ok()) {
    return broken_;
  }
  return ReceiveFrame(payload);
}

absl::StatusOr<core::Frame> FrameConnection::Receive() {
  ByteBuffer payload;
  SHUFFLE_ASSIGN_OR_RETURN(FrameHead head, ReceiveInto(&payload));
  return core::Frame{.type = head.type,
                     .flags = head.flags,
                     .request_id = head.request_id,
                     .header = std::string(head.header),
                     .payload = std::string(payload.view())};
}

absl::Status ErrorFrameToStatus(std::string_view header, const std::string& address) {
  proto::Error error;
  if (!error.ParseFromArray(header.data(), static_cast<int>(header.size()))) {
    return absl::InternalError(
        absl::StrCat("shuffle server ", address, " sent an unreadable error"));
  }
  return absl::Status(static_cast<absl::StatusCode>(error.code()),
                      absl::StrCat("shuffle server ", address, ": ", error.message()));
}

}  // namespace shuffle::client
