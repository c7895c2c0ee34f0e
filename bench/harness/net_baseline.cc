#include "bench/harness/net_baseline.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "bench/harness/scoped_fd.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

// A connected pair of stream sockets: [0] sends, [1] receives.
struct SocketPair {
  ScopedFd sender;
  ScopedFd receiver;
};

absl::StatusOr<SocketPair> ConnectLoopbackTcp() {
  ScopedFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) {
    return core::ErrnoToStatus(errno, "socket", "loopback TCP baseline");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener.get(), 1) != 0 ||
      getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return core::ErrnoToStatus(errno, "bind/listen", "127.0.0.1:0");
  }
  SocketPair pair;
  pair.sender = ScopedFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!pair.sender.valid() ||
      connect(pair.sender.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return core::ErrnoToStatus(errno, "connect", "the loopback TCP baseline's listener");
  }
  pair.receiver = ScopedFd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!pair.receiver.valid()) {
    return core::ErrnoToStatus(errno, "accept", "the loopback TCP baseline's listener");
  }
  const int one = 1;
  setsockopt(pair.sender.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return pair;
}

absl::StatusOr<SocketPair> ConnectUnixStream() {
  int fds[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return core::ErrnoToStatus(errno, "socketpair", "the Unix stream baseline");
  }
  return SocketPair{.sender = ScopedFd(fds[0]), .receiver = ScopedFd(fds[1])};
}

// Writes `buffer` in a loop until `deadline` (or a failed write), then closes the sending side.
void SendUntil(int fd, const std::string& buffer, std::chrono::steady_clock::time_point deadline,
               std::atomic<int>* error) {
  while (std::chrono::steady_clock::now() < deadline) {
    size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t n = send(fd, buffer.data() + done, buffer.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        error->store(n < 0 ? errno : EPIPE);
        shutdown(fd, SHUT_WR);
        return;
      }
      done += static_cast<size_t>(n);
    }
  }
  shutdown(fd, SHUT_WR);
}

}  // namespace

absl::StatusOr<StreamResult> MeasureStream(StreamKind kind, double seconds, uint32_t buffer_bytes) {
  SHUFFLE_ASSIGN_OR_RETURN(SocketPair pair, kind == StreamKind::kLoopbackTcp ? ConnectLoopbackTcp()
                                                                             : ConnectUnixStream());
  // The reader gives up if the sender stalls: no read blocks longer than 10 s.
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(pair.receiver.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string out(buffer_bytes, 'x');
  std::string in(buffer_bytes, '\0');
  std::atomic<int> send_error{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(seconds));
  std::thread sender(SendUntil, pair.sender.get(), std::cref(out), deadline, &send_error);
  StreamResult result;
  int read_error = 0;
  for (;;) {
    const ssize_t n = recv(pair.receiver.get(), in.data(), in.size(), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      read_error = n < 0 ? errno : 0;
      break;
    }
    result.bytes += static_cast<uint64_t>(n);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (read_error != 0) {
    shutdown(pair.receiver.get(), SHUT_RDWR);  // unblocks the sender
  }
  sender.join();
  const char* what = kind == StreamKind::kLoopbackTcp ? "loopback TCP baseline" : "Unix baseline";
  if (read_error != 0) {
    return core::ErrnoToStatus(read_error, "recv", what);
  }
  if (send_error.load() != 0) {
    return core::ErrnoToStatus(send_error.load(), "send", what);
  }
  return result;
}

}  // namespace shuffle::bench
