// Connection's write path: the response queue shared with worker threads, the fetch streams'
// backpressure wait, and the strand's gathered writes. See connection.h.
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "shuffle-server/dataplane/connection.h"

namespace shuffle::dataplane {
namespace {

// Frames handed to one gathered write.
constexpr size_t kMaxWriteBuffers = 64;

}  // namespace

// ---- Write path ---------------------------------------------------------------------------

absl::Status Connection::Send(std::string frame) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return EnqueueLocked(std::move(frame));
}

absl::Status Connection::SendWithBackpressure(std::string frame) {
  std::unique_lock<std::mutex> lock(write_mu_);
  const uint64_t cap = options_.max_pending_write_bytes;
  auto fits = [&] {
    return write_closed_ || pending_bytes_ == 0 || pending_bytes_ + frame.size() <= cap;
  };
  if (!fits()) {
    DataPlaneCounters::Add(counters_.fetch_waits);
    write_cv_.wait(lock, fits);
  }
  return EnqueueLocked(std::move(frame));
}

absl::Status Connection::EnqueueLocked(std::string frame) {
  if (write_closed_) {
    return absl::CancelledError(absl::StrCat("connection to ", peer_, " is closed"));
  }
  if (frame.size() > 5) {
    counters_.CountFrameOut(static_cast<uint8_t>(frame[5]));
  }
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

void Connection::WriteSome() {
  std::vector<boost::asio::const_buffer> buffers;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (write_closed_ || write_queue_.empty()) {
      writing_ = false;
      return;
    }
    size_t offset = write_offset_;
    for (const std::string& frame : write_queue_) {
      buffers.emplace_back(frame.data() + offset, frame.size() - offset);
      offset = 0;
      if (buffers.size() == kMaxWriteBuffers) {
        break;
      }
    }
  }
  socket_.async_write_some(
      buffers, boost::asio::bind_executor(
                   strand_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnWrite(ec, n); }));
}

void Connection::OnWrite(const boost::system::error_code& ec, size_t bytes) {
  if (closed_) {
    return;
  }
  if (ec) {
    CloseNow(absl::StrCat("write failed: ", ec.message()));
    return;
  }
  DataPlaneCounters::Add(counters_.bytes_out, bytes);
  bool drained = false;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    pending_bytes_ -= bytes;
    DataPlaneCounters::Sub(counters_.pending_write_bytes, bytes);
    last_write_progress_ = Clock::now();
    size_t left = bytes;
    while (left > 0 && !write_queue_.empty()) {
      const size_t rest = write_queue_.front().size() - write_offset_;
      if (left < rest) {
        write_offset_ += left;
        break;
      }
      left -= rest;
      write_offset_ = 0;
      write_queue_.pop_front();
    }
    drained = write_queue_.empty();
    if (drained) {
      writing_ = false;
    }
  }
  write_cv_.notify_all();
  if (!drained) {
    WriteSome();
  }
  ReadNext();
  MaybeFinish();
}

uint64_t Connection::PendingWriteBytes() {
  std::lock_guard<std::mutex> lock(write_mu_);
  return pending_bytes_;
}

void Connection::SendError(uint64_t request_id, const absl::Status& status) {
  counters_.CountError(static_cast<int>(status.code()));
  Send(EncodeErrorFrame(request_id, status)).IgnoreError();
}

}  // namespace shuffle::dataplane
