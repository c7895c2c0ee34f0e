// Sending ranges of files to a client's socket with sendfile(2): the kernel moves page-cache
// pages to the socket, so fetch payloads are never copied through the server's user space. Works
// on TCP and Unix stream sockets and on any local file system that can splice.
//
// The functions are thread-safe; the socket must be non-blocking (the connection waits for it to
// become writable when a send would block).
#ifndef SHUFFLE_SERVER_DATAPLANE_SEND_FILE_H_
#define SHUFFLE_SERVER_DATAPLANE_SEND_FILE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "shuffle-server/storage/fetch_plan.h"

namespace shuffle::dataplane {

struct SendFileResult {
  uint64_t bytes = 0;  // sent; fewer than asked when the socket filled up or a call failed
  // The socket is full: wait until it is writable, then send the rest.
  bool would_block = false;
  // Non-OK when the socket (peer gone) or the file (read error, file cut short) failed; the
  // connection cannot continue the frame and must be closed.
  absl::Status status;
  // The failure was the peer's (it closed or reset the connection), not the file's.
  bool peer_gone = false;
};

// Sends up to `max_bytes` of `range` to the non-blocking stream socket `socket_fd`, stopping
// early when the socket is full.
// REQUIRES: SIGPIPE blocked in this thread (BlockSigpipe) or ignored by the process; a SIGPIPE
// this call raises is consumed before it returns.
SendFileResult SendFileRange(int socket_fd, const storage::FileRange& range, uint64_t max_bytes);

// Blocks SIGPIPE in the calling thread. Unlike send() with MSG_NOSIGNAL, sendfile raises SIGPIPE
// when the peer has gone, which would kill a process that does not ignore it (tests, embedders).
void BlockSigpipe();

// Asks the kernel to read `range` into the page cache in the background (POSIX_FADV_WILLNEED),
// so that a later SendFileRange on an I/O thread finds its pages there instead of waiting for the
// disk. Best effort: errors are ignored.
void AdviseWillNeed(const storage::FileRange& range);

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_SEND_FILE_H_
