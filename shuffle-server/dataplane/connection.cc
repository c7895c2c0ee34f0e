#include "shuffle-server/dataplane/connection.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>

#include "absl/strings/str_cat.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/strings.h"

namespace shuffle::dataplane {
namespace {

using core::FrameType;
using core::Kv;

bool IsRequestType(FrameType type) {
  return type == FrameType::kPushRequest || type == FrameType::kCommitRequest ||
         type == FrameType::kFetchRequest || type == FrameType::kLookupRequest ||
         type == FrameType::kPing;
}

std::chrono::steady_clock::duration WatchdogTick(const DataPlaneOptions& options) {
  auto tick = std::min(options.idle_timeout, options.slow_client_timeout) / 4;
  return std::clamp<std::chrono::milliseconds>(tick, std::chrono::milliseconds(10),
                                               std::chrono::milliseconds(1000));
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Connection::Connection(Socket socket, std::string peer, uint64_t id,
                       const ConnectionContext& context, const tls::SslCtxPtr& tls)
    : peer_(std::move(peer)),
      id_(id),
      context_(context),
      options_(*context.options),
      counters_(*context.counters),
      strand_(boost::asio::make_strand(*context.io)),
      socket_(std::move(socket)),
      watchdog_(strand_),
      watchdog_tick_(WatchdogTick(options_)) {
  if (tls != nullptr) {
    // The stream's SSL holds its own reference to the context; the Asio wrapper only lends it.
    SSL_CTX_up_ref(tls.get());
    boost::asio::ssl::context lent(tls.get());
    tls_ = std::make_unique<TlsStream>(socket_, lent);
  }
}

Connection::~Connection() {
  // Normally CloseNow() ran; if the server stopped its I/O threads first, account here.
  if (!closed_) {
    DataPlaneCounters::Sub(counters_.connections_open);
    DataPlaneCounters::Sub(counters_.pending_write_bytes, pending_bytes_);
  }
}

void Connection::Start() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->closed_) {
      return;  // Shutdown() won the race
    }
    // Asio makes the socket non-blocking lazily; sendfile needs it from the first write on, or
    // a full socket would block the I/O thread.
    boost::system::error_code ec;
    self->socket_.native_non_blocking(true, ec);
    if (ec) {
      self->CloseNow(absl::StrCat("making the socket non-blocking failed: ", ec.message()));
      return;
    }
    self->last_frame_time_ = Clock::now();
    self->ArmWatchdog();
    if (self->tls_ == nullptr) {
      self->ReadNext();
      return;
    }
    self->tls_->async_handshake(
        boost::asio::ssl::stream_base::server,
        boost::asio::bind_executor(
            self->strand_, [self](const boost::system::error_code& ec) { self->OnHandshake(ec); }));
  });
}

void Connection::OnHandshake(const boost::system::error_code& ec) {
  if (closed_) {
    return;
  }
  if (ec) {
    DataPlaneCounters::Add(counters_.tls_handshake_failures);
    CloseNow(absl::StrCat("TLS handshake failed: ", ec.message()));
    return;
  }
  DataPlaneCounters::Add(counters_.tls_handshakes);
  ReadNext();
}

template <typename Buffers, typename Done>
void Connection::ReadExactly(const Buffers& buffers, Done done) {
  auto handler = boost::asio::bind_executor(strand_, std::move(done));
  if (tls_ != nullptr) {
    boost::asio::async_read(*tls_, buffers, std::move(handler));
  } else {
    boost::asio::async_read(socket_, buffers, std::move(handler));
  }
}

void Connection::Shutdown(std::string reason) {
  MarkWriteClosed();
  boost::asio::post(
      strand_, [self = shared_from_this(), reason = std::move(reason)] { self->CloseNow(reason); });
}

// ---- Read path ----------------------------------------------------------------------------

void Connection::ReadNext() {
  if (closed_ || reading_ || peer_eof_ || close_when_flushed_) {
    return;
  }
  if (in_flight_ >= options_.max_in_flight_per_connection) {
    if (!paused_) {
      paused_ = true;
      DataPlaneCounters::Add(counters_.paused_in_flight);
    }
    return;
  }
  if (PendingWriteBytes() > options_.max_pending_write_bytes) {
    if (!paused_) {
      paused_ = true;
      DataPlaneCounters::Add(counters_.paused_pending_writes);
    }
    return;
  }
  paused_ = false;
  reading_ = true;
  ReadExactly(boost::asio::buffer(prefix_bytes_),
              [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                self->OnPrefix(ec, n);
              });
}

void Connection::OnPrefix(const boost::system::error_code& ec, size_t bytes) {
  if (closed_) {
    return;
  }
  if (ec) {
    OnReadError(ec, bytes, /*at_frame_boundary=*/bytes == 0);
    return;
  }
  DataPlaneCounters::Add(counters_.bytes_in, bytes);
  const std::string_view raw(prefix_bytes_.data(), prefix_bytes_.size());
  absl::StatusOr<core::FramePrefix> prefix = core::DecodeFramePrefix(raw, options_.frame_limits);
  if (!prefix.ok()) {
    FailProtocol(0, prefix.status());
    return;
  }
  if (!IsRequestType(prefix->type)) {
    FailProtocol(prefix->request_id,
                 absl::InvalidArgumentError(absl::StrCat(
                     "received a ", core::ToAbsl(core::FrameTypeName(prefix->type)),
                     " frame, which only a server sends; clients may send push, commit, fetch "
                     "and ping requests")));
    return;
  }
  prefix_ = *prefix;
  reserved_ = context_.budget->Clamp(uint64_t{prefix_.header_size} + prefix_.payload_size);
  if (reserved_ == 0) {
    ReadBody();
    return;
  }
  auto on_grant = [self = shared_from_this()] {
    boost::asio::post(self->strand_, [self] { self->OnBudgetGranted(); });
  };
  if (context_.budget->ReserveOrWait(reserved_, std::move(on_grant), &budget_ticket_)) {
    ReadBody();
    return;
  }
  waiting_budget_ = true;
  DataPlaneCounters::Add(counters_.paused_request_budget);
}

void Connection::OnBudgetGranted() {
  waiting_budget_ = false;
  if (closed_) {
    ReleaseReservation();
    return;
  }
  ReadBody();
}

void Connection::ReadBody() {
  header_.resize(prefix_.header_size);
  payload_.resize(prefix_.payload_size);
  if (header_.empty() && payload_.empty()) {
    OnBody({}, 0);
    return;
  }
  std::array<boost::asio::mutable_buffer, 2> buffers = {boost::asio::buffer(header_),
                                                        boost::asio::buffer(payload_)};
  ReadExactly(buffers, [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
    self->OnBody(ec, n);
  });
}

void Connection::OnBody(const boost::system::error_code& ec, size_t bytes) {
  if (closed_ || ec) {
    ReleaseReservation();
    if (!closed_) {
      OnReadError(ec, bytes, /*at_frame_boundary=*/false);
    }
    return;
  }
  DataPlaneCounters::Add(counters_.bytes_in, bytes);
  const std::string_view raw(prefix_bytes_.data(), prefix_bytes_.size());
  absl::Status verified = core::VerifyFrameHead(prefix_, raw, header_);
  if (!verified.ok()) {
    ReleaseReservation();
    FailProtocol(0, verified);
    return;
  }
  counters_.CountFrameIn(static_cast<uint8_t>(prefix_.type));
  last_frame_time_ = Clock::now();
  reading_ = false;
  core::Frame frame{.type = prefix_.type,
                    .flags = prefix_.flags,
                    .request_id = prefix_.request_id,
                    .header = std::move(header_),
                    .payload = std::move(payload_)};
  header_ = std::string();
  payload_ = std::string();
  Dispatch(std::move(frame));
  ReadNext();
}

void Connection::Dispatch(core::Frame frame) {
  const uint64_t reserved = std::exchange(reserved_, 0);
  if (frame.type == FrameType::kPing) {
    context_.budget->Release(reserved);
    Send(OutFrame(core::EncodeFrame(FrameType::kPong, frame.request_id, {}, {}))).IgnoreError();
    return;
  }
  ++in_flight_;
  counters_.requests.Enter();
  boost::asio::post(*context_.workers,
                    [self = shared_from_this(), frame = std::move(frame), reserved]() mutable {
                      self->RunRequest(std::move(frame), reserved);
                    });
}

void Connection::RunRequest(core::Frame frame, uint64_t reserved) {
  absl::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    if (write_closed_) {
      status = absl::CancelledError("connection closed before the request ran");
    }
  }
  if (status.ok()) {
    status = context_.handler->Handle(frame, *this);
  }
  if (!status.ok() && !absl::IsCancelled(status)) {
    SHUFFLE_LOG(WARNING) << "request failed" << Kv("peer", peer_)
                         << Kv("type", core::FrameTypeName(frame.type))
                         << Kv("request_id", frame.request_id)
                         << Kv("code", absl::StatusCodeToString(status.code()))
                         << Kv("error", status.message());
  }
  if (!status.ok()) {
    SendError(frame.request_id, status);
  }
  frame = core::Frame();
  context_.budget->Release(reserved);
  counters_.requests.Leave();
  boost::asio::post(strand_, [self = shared_from_this()] { self->OnRequestDone(); });
}

void Connection::OnRequestDone() {
  --in_flight_;
  ReadNext();
  MaybeFinish();
}

void Connection::ReleaseReservation() { context_.budget->Release(std::exchange(reserved_, 0)); }

void Connection::FailProtocol(uint64_t request_id, const absl::Status& status) {
  DataPlaneCounters::Add(counters_.connections_closed_protocol);
  SHUFFLE_LOG(WARNING) << "closing data-plane connection after a protocol error"
                       << Kv("peer", peer_) << Kv("error", status.message());
  SendError(request_id,
            absl::Status(status.code(),
                         absl::StrCat("closing the connection from ", peer_, ": ", status.message(),
                                      "; the byte stream cannot be resynchronised, fix the "
                                      "client (protocol version ",
                                      core::kFrameVersion, ") and reconnect")));
  reading_ = false;
  close_when_flushed_ = true;
  MaybeFinish();
}

void Connection::OnReadError(const boost::system::error_code& ec, size_t bytes,
                             bool at_frame_boundary) {
  reading_ = false;
  // Over TLS, a peer that closes without close_notify (as the client library does) ends the
  // stream like a plaintext close: the records before it were whole and authenticated.
  const bool closed =
      ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
  if (closed && at_frame_boundary) {
    peer_eof_ = true;  // orderly half-close: answer what is in flight, then close
    MaybeFinish();
    return;
  }
  if (closed) {
    CloseNow(absl::StrCat("peer closed the connection in the middle of a frame (", bytes,
                          " bytes of its last read)"));
    return;
  }
  CloseNow(absl::StrCat("read failed: ", ec.message()));
}

// ---- Lifecycle ----------------------------------------------------------------------------

void Connection::ArmWatchdog() {
  watchdog_.expires_after(watchdog_tick_);
  watchdog_.async_wait(boost::asio::bind_executor(
      strand_,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->OnWatchdog(ec); }));
}

void Connection::OnWatchdog(const boost::system::error_code& ec) {
  if (ec || closed_) {
    return;
  }
  const Clock::time_point now = Clock::now();
  uint64_t pending = 0;
  Clock::time_point progress;
  {
    absl::MutexLock lock(&write_mu_);
    pending = pending_bytes_;
    progress = last_write_progress_;
  }
  if (pending > 0 && now - progress >= options_.slow_client_timeout) {
    DataPlaneCounters::Add(counters_.connections_closed_slow);
    CloseNow(absl::StrCat("slow client: ", pending,
                          " bytes of responses made no write progress for ",
                          Seconds(now - progress), " s"));
    return;
  }
  if (pending == 0 && in_flight_ == 0 && !waiting_budget_ &&
      now - last_frame_time_ >= options_.idle_timeout) {
    DataPlaneCounters::Add(counters_.connections_closed_idle);
    CloseNow(absl::StrCat("idle for ", Seconds(now - last_frame_time_), " s"));
    return;
  }
  ArmWatchdog();
}

void Connection::MaybeFinish() {
  if (closed_ || (!peer_eof_ && !close_when_flushed_)) {
    return;
  }
  if (PendingWriteBytes() != 0) {
    return;
  }
  if (close_when_flushed_) {
    CloseNow("protocol error");
  } else if (in_flight_ == 0) {
    CloseNow("peer closed the connection");
  }
}

void Connection::MarkWriteClosed() {
  {
    absl::MutexLock lock(&write_mu_);
    write_closed_ = true;
  }
  write_cv_.SignalAll();
}

void Connection::CloseNow(const std::string& reason) {
  if (closed_) {
    return;
  }
  closed_ = true;
  MarkWriteClosed();
  {
    absl::MutexLock lock(&write_mu_);
    // Queued frames stay allocated until the connection dies (an aborted write may still refer
    // to them), but they no longer count as pending.
    DataPlaneCounters::Sub(counters_.pending_write_bytes, pending_bytes_);
    pending_bytes_ = 0;
  }
  if (waiting_budget_ && context_.budget->Cancel(budget_ticket_)) {
    waiting_budget_ = false;
    reserved_ = 0;
  }
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  watchdog_.cancel();
  DataPlaneCounters::Sub(counters_.connections_open);
  SHUFFLE_LOG(INFO) << "closed data-plane connection" << Kv("peer", peer_) << Kv("reason", reason);
  if (context_.on_closed) {
    context_.on_closed(id_);
  }
}

}  // namespace shuffle::dataplane
