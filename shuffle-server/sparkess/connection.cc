#include "shuffle-server/sparkess/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/str_cat.h"
#include "shuffle-server/dataplane/send_file.h"
#include "shuffle/core/coding.h"
#include "shuffle/core/logging.h"

namespace shuffle::sparkess {
namespace {

using core::Kv;

// Bodies up to this size are read into the gathered write: one pread and a share of one
// send beats a sendfile call per small block.
constexpr uint64_t kInlineBodyBytes = 64 << 10;
// A gathered write is sent once it holds this much.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kReadBytes = 64 << 10;

}  // namespace

SparkConnection::SparkConnection(Socket socket, std::string peer, const Service* service,
                                 uint64_t max_frame)
    : peer_(std::move(peer)),
      service_(service),
      max_frame_(max_frame),
      socket_(std::move(socket)),
      session_(service) {
  service_->counters->Add(service_->counters->connections_accepted);
  service_->counters->Add(service_->counters->connections_open);
}

SparkConnection::~SparkConnection() {
  service_->counters->connections_open.fetch_sub(1, std::memory_order_relaxed);
}

void SparkConnection::Start() {
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->socket_.native_non_blocking(true, ec);
    self->socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    self->ReadMore();
  });
}

void SparkConnection::Close() {
  boost::asio::post(socket_.get_executor(),
                    [self = shared_from_this()] { self->Finish("server stopping"); });
}

void SparkConnection::Finish(const std::string& reason) {
  if (closed_) {
    return;
  }
  closed_ = true;
  SHUFFLE_LOG(DEBUG) << "Spark connection closed" << Kv("peer", peer_) << Kv("reason", reason);
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void SparkConnection::ReadMore() {
  if (closed_) {
    return;
  }
  if (in_used_ > 0 && in_used_ == in_.size()) {
    in_.clear();
    in_used_ = 0;
  }
  const size_t have = in_.size();
  in_.resize(have + kReadBytes);
  socket_.async_read_some(
      boost::asio::buffer(in_.data() + have, kReadBytes),
      [self = shared_from_this(), have](const boost::system::error_code& ec, size_t n) {
        self->in_.resize(have + n);
        if (ec) {
          self->Finish(ec == boost::asio::error::eof ? "peer closed" : ec.message());
          return;
        }
        self->OnRead(n);
      });
}

void SparkConnection::OnRead(size_t n) {
  if (closed_) {
    return;
  }
  if (cipher_ != nullptr && n > 0) {
    cipher_->Decrypt(in_.data() + in_.size() - n, n);
  }
  const bool keep = HandleFrames();
  if (!keep) {
    close_after_write_ = true;
  }
  if (in_used_ > 0) {  // drop handled bytes
    in_.erase(0, in_used_);
    in_used_ = 0;
  }
  if (out_.empty()) {
    if (close_after_write_) {
      Finish("bad frame");
      return;
    }
    ReadMore();
    return;
  }
  WriteReplies();
}

bool SparkConnection::HandleFrames() {
  std::vector<Reply> replies;
  bool keep = true;
  while (keep && in_.size() - in_used_ >= kFrameLengthBytes) {
    const char* p = in_.data() + in_used_;
    const auto length = static_cast<int64_t>(core::GetBigEndian64(p));
    const int64_t frame = length - static_cast<int64_t>(kFrameLengthBytes);
    const size_t available = in_.size() - in_used_ - kFrameLengthBytes;
    if (frame <= 0 || static_cast<uint64_t>(frame) > max_frame_) {
      const std::string_view head(p + kFrameLengthBytes, std::min<size_t>(available, 9));
      session_.HandleBadFrame(
          head,
          absl::InvalidArgumentError(frame <= 0
                                         ? absl::StrCat("Frame length should be positive: ", frame)
                                         : absl::StrCat("Too large frame: ", frame,
                                                        " bytes (this shuffle "
                                                        "service reads frames of at most ",
                                                        max_frame_, " bytes)")),
          &replies);
      keep = false;
      break;
    }
    if (available < static_cast<size_t>(frame)) {
      break;  // wait for the rest
    }
    const std::string_view body(p + kFrameLengthBytes, static_cast<size_t>(frame));
    in_used_ += kFrameLengthBytes + static_cast<size_t>(frame);
    absl::StatusOr<Request> request = DecodeRequest(body);
    if (!request.ok()) {
      SHUFFLE_LOG(WARNING) << "bad Spark frame; closing the connection" << Kv("peer", peer_)
                           << Kv("error", request.status().ToString());
      session_.HandleBadFrame(body.substr(0, 9), request.status(), &replies);
      keep = false;
      break;
    }
    session_.Handle(*request, &replies);
    if (!replies.empty() && replies.back().close) {
      keep = false;
    }
    if (std::unique_ptr<TransportCipher> cipher = session_.TakeCipher()) {
      // The handshake's reply goes out in the clear; what follows it, both ways, is encrypted.
      pending_cipher_ = std::move(cipher);
      break;
    }
  }
  for (Reply& r : replies) {
    keep = keep && !r.close;
    if (!r.head.empty() || r.body.length > 0) {
      out_.push_back(std::move(r));
    }
  }
  return keep;
}

bool SparkConnection::AppendBody(uint64_t max) {
  Reply& r = out_.front();
  const uint64_t n = std::min(max, r.body.length - body_sent_);
  const size_t at = batch_.size();
  batch_.resize(at + n);
  uint64_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(r.body.file->fd(), batch_.data() + at + done, n - done,
                                static_cast<off_t>(r.body.offset + body_sent_ + done));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      // The head promised these bytes; nothing else can be sent in their place.
      SHUFFLE_LOG(WARNING) << "Spark block file read failed mid-reply; closing"
                           << Kv("file", r.body.file->path()) << Kv("peer", peer_);
      return false;
    }
    done += static_cast<uint64_t>(got);
  }
  body_sent_ += n;
  if (body_sent_ == r.body.length) {
    body_sent_ = 0;
    out_.pop_front();
  }
  return true;
}

void SparkConnection::WriteReplies() {
  if (closed_) {
    return;
  }
  // Gather heads and bodies until a large body (sent with sendfile; with a cipher every body
  // is read and encrypted here, a batch at a time) or the batch limit.
  while (!out_.empty() && batch_.size() < kBatchBytes) {
    Reply& r = out_.front();
    if (body_sent_ == 0 && !r.head.empty()) {
      batch_ += r.head;
      r.head.clear();
    }
    if (r.body.length == 0) {
      out_.pop_front();
      continue;
    }
    if (cipher_ == nullptr && r.body.length > kInlineBodyBytes) {
      break;
    }
    if (!AppendBody(cipher_ != nullptr ? kBatchBytes - batch_.size() : r.body.length)) {
      Finish("file read failed");
      return;
    }
  }
  if (!batch_.empty()) {
    if (cipher_ != nullptr) {
      cipher_->Encrypt(batch_.data(), batch_.size());
    }
    boost::asio::async_write(
        socket_, boost::asio::buffer(batch_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
          self->batch_.clear();
          if (ec) {
            self->Finish(ec.message());
            return;
          }
          self->WriteReplies();
        });
    return;
  }
  if (!out_.empty()) {
    SendBody();
    return;
  }
  AfterWrites();
}

void SparkConnection::AfterWrites() {
  if (close_after_write_) {
    Finish("closed after a failure reply");
    return;
  }
  if (pending_cipher_ != nullptr) {
    cipher_ = std::move(pending_cipher_);
    if (!in_.empty()) {  // bytes that arrived after the handshake: encrypted
      cipher_->Decrypt(in_.data(), in_.size());
      boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->OnRead(0); });
      return;
    }
  }
  ReadMore();
}

void SparkConnection::SendBody() {
  Reply& r = out_.front();
  const storage::FileRange range{.fd = r.body.file->fd(),
                                 .offset = r.body.offset + body_sent_,
                                 .length = r.body.length - body_sent_};
  const dataplane::SendFileResult sent =
      dataplane::SendFileRange(socket_.native_handle(), range, 4u << 20);
  body_sent_ += sent.bytes;
  service_->counters->Add(service_->counters->sendfile_bytes, sent.bytes);
  if (!sent.status.ok()) {
    if (!sent.peer_gone) {
      SHUFFLE_LOG(WARNING) << "sendfile of a Spark block failed; closing" << Kv("peer", peer_)
                           << Kv("error", sent.status.ToString());
    }
    Finish("sendfile failed");
    return;
  }
  if (body_sent_ == r.body.length) {
    body_sent_ = 0;
    out_.pop_front();
    boost::asio::post(socket_.get_executor(),
                      [self = shared_from_this()] { self->WriteReplies(); });
    return;
  }
  if (sent.would_block) {
    socket_.async_wait(Socket::wait_write,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (ec) {
                           self->Finish(ec.message());
                           return;
                         }
                         self->SendBody();
                       });
    return;
  }
  // Sent 4 MiB: let other connections of this thread run.
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->SendBody(); });
}

}  // namespace shuffle::sparkess
