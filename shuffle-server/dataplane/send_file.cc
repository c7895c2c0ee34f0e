#include "shuffle-server/dataplane/send_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <sys/sendfile.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/errno_status.h"

namespace shuffle::dataplane {
namespace {

// The most one sendfile call moves on Linux (MAX_RW_COUNT); longer requests are clamped anyway.
constexpr uint64_t kMaxSendfileBytes = 0x7ffff000;

// Takes a SIGPIPE pending for this thread (raised by the failed call), so that it is not
// delivered once a later caller unblocks the signal.
void ConsumePendingSigpipe() {
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) != 0 || sigismember(&pending, SIGPIPE) != 1) {
    return;
  }
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  const timespec zero{};
  while (sigtimedwait(&pipe, nullptr, &zero) < 0 && errno == EINTR) {
  }
}

}  // namespace

SendFileResult SendFileRange(int socket_fd, const storage::FileRange& range, uint64_t max_bytes) {
  SendFileResult result;
  const uint64_t want = std::min(range.length, max_bytes);
  while (result.bytes < want) {
    off_t offset = static_cast<off_t>(range.offset + result.bytes);
    const auto count = static_cast<size_t>(std::min(want - result.bytes, kMaxSendfileBytes));
    const ssize_t n = sendfile(socket_fd, range.fd, &offset, count);
    if (n > 0) {
      result.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) {
      result.status = absl::DataLossError(absl::StrCat(
          "sendfile: segment file (fd ", range.fd, ") has no bytes at offset ",
          range.offset + result.bytes, ", inside the planned range [", range.offset, ", ",
          range.offset + range.length, "): the file was cut short under the server"));
      break;
    }
    const int error = errno;
    if (error == EINTR) {
      continue;
    }
    if (error == EAGAIN || error == EWOULDBLOCK) {
      result.would_block = true;
      break;
    }
    if (error == EPIPE) {
      ConsumePendingSigpipe();
    }
    result.peer_gone = error == EPIPE || error == ECONNRESET || error == ENOTCONN;
    result.status = core::ErrnoToStatus(error, "sendfile",
                                        absl::StrCat(count, " bytes at offset ", offset, " of fd ",
                                                     range.fd, " to socket ", socket_fd));
    break;
  }
  return result;
}

void BlockSigpipe() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

void AdviseWillNeed(const storage::FileRange& range) {
  (void)posix_fadvise(range.fd, static_cast<off_t>(range.offset), static_cast<off_t>(range.length),
                      POSIX_FADV_WILLNEED);
}

}  // namespace shuffle::dataplane
