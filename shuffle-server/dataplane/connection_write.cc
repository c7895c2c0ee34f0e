// Connection's write path: the response queue shared with worker threads, the fetch streams'
// backpressure wait, and the strand's writes: gathered writes for frames in memory, sendfile for
// the file ranges of fetch payloads. See connection.h.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/str_cat.h"
#include "shuffle-server/dataplane/connection.h"
#include "shuffle-server/dataplane/send_file.h"
#include "shuffle/core/logging.h"

namespace shuffle::dataplane {
namespace {

using core::Kv;

// Frames handed to one gathered write.
constexpr size_t kMaxWriteBuffers = 64;
// File bytes one turn of the strand sends before it lets the connections sharing its I/O thread
// run: a fast reader could otherwise keep one connection sending for as long as its fetch lasts.
constexpr uint64_t kFileBytesPerTurn = 4u << 20;
// TLS: file bytes read and encrypted per write (a multiple of the 16 KiB record size).
constexpr uint64_t kTlsFileChunk = 256u << 10;

}  // namespace

// ---- Write path ---------------------------------------------------------------------------

absl::Status Connection::Send(OutFrame frame) {
  absl::MutexLock lock(&write_mu_);
  return EnqueueLocked(std::move(frame));
}

absl::Status Connection::SendWithBackpressure(OutFrame frame) {
  absl::MutexLock lock(&write_mu_);
  const uint64_t cap = options_.max_pending_write_bytes;
  auto fits = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    return write_closed_ || pending_bytes_ == 0 || pending_bytes_ + frame.size() <= cap;
  };
  if (!fits()) {
    DataPlaneCounters::Add(counters_.fetch_waits);
    while (!fits()) {
      write_cv_.Wait(&write_mu_);
    }
  }
  return EnqueueLocked(std::move(frame));
}

absl::Status Connection::EnqueueLocked(OutFrame frame) {
  if (write_closed_) {
    return absl::CancelledError(absl::StrCat("connection to ", peer_, " is closed"));
  }
  counters_.CountFrameOut(frame.type_byte());
  if (write_queue_.empty()) {
    last_write_progress_ = Clock::now();
  }
  pending_bytes_ += frame.size();
  DataPlaneCounters::Add(counters_.pending_write_bytes, frame.size());
  DataPlaneCounters::Max(counters_.max_connection_pending_write_bytes, pending_bytes_);
  write_queue_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    boost::asio::post(strand_, [self = shared_from_this()] { self->WriteSome(); });
  }
  return absl::OkStatus();
}

bool Connection::NextWrite(std::vector<boost::asio::const_buffer>* buffers,
                           storage::FileRange* file) {
  absl::MutexLock lock(&write_mu_);
  if (write_closed_ || write_queue_.empty()) {
    writing_ = false;
    return false;
  }
  const OutFrame& front = write_queue_.front();
  if (write_part_ > 0) {
    const storage::FileRange& range = front.ranges()[write_part_ - 1];
    *file = storage::FileRange{.fd = range.fd,
                               .offset = range.offset + write_offset_,
                               .length = range.length - write_offset_};
    return true;
  }
  // Frames stay put in the deque until OnWritten pops them on this strand, so the buffers stay
  // valid outside the lock.
  uint64_t offset = write_offset_;
  for (const OutFrame& frame : write_queue_) {
    buffers->emplace_back(frame.bytes().data() + offset, frame.bytes().size() - offset);
    offset = 0;
    if (!frame.ranges().empty() || buffers->size() == kMaxWriteBuffers) {
      break;  // a file range comes next, sent by itself
    }
  }
  return true;
}

void Connection::WriteSome() {
  uint64_t budget = kFileBytesPerTurn;
  while (true) {
    std::vector<boost::asio::const_buffer> buffers;
    storage::FileRange file;
    if (!NextWrite(&buffers, &file)) {
      return;
    }
    if (!buffers.empty() && tls_ != nullptr) {
      tls_->async_write_some(
          buffers, boost::asio::bind_executor(
                       strand_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                            size_t n) { self->OnWrite(ec, n); }));
      return;
    }
    if (tls_ != nullptr) {
      WriteFileThroughTls(file, budget);
      return;
    }
    if (!buffers.empty()) {
      socket_.async_write_some(
          buffers, boost::asio::bind_executor(
                       strand_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                            size_t n) { self->OnWrite(ec, n); }));
      return;
    }
    const SendFileResult sent = SendFileRange(socket_.native_handle(), file, budget);
    if (sent.bytes > 0) {
      DataPlaneCounters::Add(counters_.sendfile_bytes, sent.bytes);
      budget -= sent.bytes;
      OnWritten(sent.bytes);
    }
    if (closed_) {
      return;  // OnWritten finished the connection
    }
    if (!sent.status.ok()) {
      if (!sent.peer_gone) {
        // The segment file failed under a committed fetch: the client sees the connection
        // close mid-frame and retries, but the disk or the file system needs a look.
        SHUFFLE_LOG(WARNING) << "reading a segment file for a fetch failed" << Kv("peer", peer_)
                             << Kv("error", sent.status.ToString());
      }
      CloseNow(absl::StrCat("sending a fetch payload failed: ", sent.status.ToString()));
      return;
    }
    if (sent.would_block) {
      DataPlaneCounters::Add(counters_.sendfile_waits);
      socket_.async_wait(
          Socket::wait_write,
          boost::asio::bind_executor(
              strand_, [self = shared_from_this()](const boost::system::error_code& ec) {
                self->OnWritable(ec);
              }));
      return;
    }
    if (budget == 0) {
      boost::asio::post(strand_, [self = shared_from_this()] { self->WriteSome(); });
      return;
    }
  }
}

void Connection::OnWrite(const boost::system::error_code& ec, size_t bytes) {
  if (closed_) {
    return;
  }
  if (ec) {
    CloseNow(absl::StrCat("write failed: ", ec.message()));
    return;
  }
  OnWritten(bytes);
  WriteSome();
}

bool Connection::WriteFileThroughTls(const storage::FileRange& file, uint64_t budget) {
  if (tls_file_buffer_ == nullptr) {
    tls_file_buffer_ = std::make_unique<char[]>(kTlsFileChunk);
  }
  const size_t want = std::min({file.length, budget, kTlsFileChunk});
  size_t got = 0;
  while (got < want) {
    const ssize_t n = pread(file.fd, tls_file_buffer_.get() + got, want - got,
                            static_cast<off_t>(file.offset + got));
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    const std::string reason =
        n == 0 ? "the segment file ends before the range" : std::string(strerror(errno));
    SHUFFLE_LOG(WARNING) << "reading a segment file for a fetch failed" << Kv("peer", peer_)
                         << Kv("error", reason);
    CloseNow(absl::StrCat("reading a fetch payload failed: ", reason));
    return false;
  }
  boost::asio::async_write(
      *tls_, boost::asio::buffer(tls_file_buffer_.get(), got),
      boost::asio::bind_executor(
          strand_, [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
            self->OnWrite(ec, n);
          }));
  return true;
}

void Connection::OnWritable(const boost::system::error_code& ec) {
  if (closed_) {
    return;
  }
  if (ec) {
    CloseNow(absl::StrCat("waiting to write failed: ", ec.message()));
    return;
  }
  WriteSome();
}

void Connection::OnWritten(uint64_t bytes) {
  DataPlaneCounters::Add(counters_.bytes_out, bytes);
  {
    absl::MutexLock lock(&write_mu_);
    pending_bytes_ -= bytes;
    DataPlaneCounters::Sub(counters_.pending_write_bytes, bytes);
    last_write_progress_ = Clock::now();
    AdvanceLocked(bytes);
  }
  write_cv_.SignalAll();
  ReadNext();
  MaybeFinish();
}

void Connection::AdvanceLocked(uint64_t bytes) {
  // Also steps over empty parts, so the cursor always rests on a part with bytes left.
  while (!write_queue_.empty()) {
    const OutFrame& front = write_queue_.front();
    const uint64_t part =
        write_part_ == 0 ? front.bytes().size() : front.ranges()[write_part_ - 1].length;
    const uint64_t rest = part - write_offset_;
    if (bytes < rest) {
      write_offset_ += bytes;
      return;
    }
    bytes -= rest;
    write_offset_ = 0;
    if (++write_part_ > front.ranges().size()) {
      write_part_ = 0;
      write_queue_.pop_front();
    }
  }
}

uint64_t Connection::PendingWriteBytes() {
  absl::MutexLock lock(&write_mu_);
  return pending_bytes_;
}

void Connection::SendError(uint64_t request_id, const absl::Status& status) {
  counters_.CountError(static_cast<int>(status.code()));
  Send(OutFrame(EncodeErrorFrame(request_id, status))).IgnoreError();
}

}  // namespace shuffle::dataplane
