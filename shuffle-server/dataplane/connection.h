// Connection: one client of the data plane. Reads frames (prefix first, so oversized frames are
// refused before anything is buffered), answers pings inline, hands requests to the worker pool
// and writes their responses, which may come out of order (matched by request id).
//
// Writes: response frames queue as OutFrames. The strand writes their in-memory parts with
// gathered writes and their file ranges (fetch payloads) with sendfile, waiting for the socket
// to become writable when it is full (connection_write.cc, send_file.h).
// Backpressure: the connection stops reading while it has max in-flight requests, while its
// unwritten responses (file ranges included) exceed the cap, or while the server-wide request
// budget cannot hold the next frame's body. Fetch streams block in SendWithBackpressure() until
// writes drain.
// Timeouts: a watchdog closes the connection when it is idle (no complete frame, nothing in
// flight) or when its pending responses make no write progress (slow client).
// TLS: a connection given a TLS context runs the server handshake first (the watchdog's idle
// timeout bounds it) and then reads and writes through OpenSSL; file ranges are read into a
// buffer and encrypted, since sendfile cannot go through user-space TLS (the kernel's TLS offload
// is not used: see docs/security.md).
//
// Thread-safety: socket, timer and read state live on the connection's strand; the write queue
// and closed flag are guarded by a mutex so worker threads may call Send() and
// SendWithBackpressure() concurrently. Start() and Shutdown() may be called from any thread.
// Owned by shared_ptr: every pending operation and request keeps the connection alive.
#ifndef SHUFFLE_SERVER_DATAPLANE_CONNECTION_H_
#define SHUFFLE_SERVER_DATAPLANE_CONNECTION_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/dataplane/handlers.h"
#include "shuffle-server/dataplane/options.h"
#include "shuffle-server/dataplane/out_frame.h"
#include "shuffle-server/dataplane/payload_budget.h"
#include "shuffle-server/dataplane/stats.h"
#include "shuffle/core/frame.h"

namespace shuffle::dataplane {

// Server-wide objects a connection uses; they outlive every connection.
struct ConnectionContext {
  boost::asio::io_context* io = nullptr;
  const DataPlaneOptions* options = nullptr;
  const RequestHandler* handler = nullptr;
  boost::asio::thread_pool* workers = nullptr;
  PayloadBudget* budget = nullptr;
  DataPlaneCounters* counters = nullptr;
  // Called on the connection's strand once, when it closes.
  std::function<void(uint64_t id)> on_closed;
};

class Connection final : public ResponseWriter, public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::generic::stream_protocol::socket;
  using Clock = std::chrono::steady_clock;

  // `tls`: the server TLS context this connection uses for its life (null: plaintext).
  Connection(Socket socket, std::string peer, uint64_t id, const ConnectionContext& context,
             const tls::SslCtxPtr& tls = nullptr);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading and the watchdog.
  void Start();
  // Closes the connection: wakes blocked fetch streams at once, closes the socket on the strand.
  void Shutdown(std::string reason);

  uint64_t id() const { return id_; }

  // ResponseWriter.
  absl::Status Send(OutFrame frame) override;
  absl::Status SendWithBackpressure(OutFrame frame) override;
  const std::string& peer() const override { return peer_; }

 private:
  using TlsStream = boost::asio::ssl::stream<Socket&>;

  // Read path (strand).
  void OnHandshake(const boost::system::error_code& ec);
  // Reads exactly `buffers` from the socket or through TLS, then calls `done` on the strand.
  template <typename Buffers, typename Done>
  void ReadExactly(const Buffers& buffers, Done done);
  void ReadNext();
  void OnPrefix(const boost::system::error_code& ec, size_t bytes);
  void OnBudgetGranted();
  void ReadBody();
  void OnBody(const boost::system::error_code& ec, size_t bytes);
  void Dispatch(core::Frame frame);
  void RunRequest(core::Frame frame, uint64_t reserved);  // worker thread
  void OnRequestDone();
  void ReleaseReservation();
  void FailProtocol(uint64_t request_id, const absl::Status& status);
  void OnReadError(const boost::system::error_code& ec, size_t bytes, bool at_frame_boundary);

  // Write path.
  absl::Status EnqueueLocked(OutFrame frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Strand: writes what is queued until the socket is full, a gathered write is outstanding or
  // the queue is empty (then clears writing_).
  void WriteSome();
  // What to write next, under write_mu_: the in-memory parts up to the next file range
  // (`buffers`), else the rest of that range (`file`). False when nothing is left to write.
  bool NextWrite(std::vector<boost::asio::const_buffer>* buffers, storage::FileRange* file);
  void OnWrite(const boost::system::error_code& ec, size_t bytes);
  // TLS: reads up to `budget` bytes of `file` into tls_file_buffer_ and writes them encrypted.
  // False when the read failed (the connection is closed).
  bool WriteFileThroughTls(const storage::FileRange& file, uint64_t budget);
  void OnWritable(const boost::system::error_code& ec);
  // Strand: `bytes` of the queue reached the socket.
  void OnWritten(uint64_t bytes);
  void AdvanceLocked(uint64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  uint64_t PendingWriteBytes();

  // Lifecycle (strand).
  void ArmWatchdog();
  void OnWatchdog(const boost::system::error_code& ec);
  void MaybeFinish();
  void CloseNow(const std::string& reason);
  void MarkWriteClosed();
  void SendError(uint64_t request_id, const absl::Status& status);

  const std::string peer_;
  const uint64_t id_;
  const ConnectionContext context_;
  const DataPlaneOptions& options_;
  DataPlaneCounters& counters_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  Socket socket_;
  std::unique_ptr<TlsStream> tls_;           // null: plaintext
  std::unique_ptr<char[]> tls_file_buffer_;  // file bytes on their way into TLS records
  boost::asio::steady_timer watchdog_;
  const Clock::duration watchdog_tick_;

  // Strand-only state.
  std::array<char, core::kFramePrefixSize> prefix_bytes_{};
  core::FramePrefix prefix_;
  std::string header_;
  std::string payload_;
  uint64_t reserved_ = 0;  // budget bytes held by the frame being read
  uint64_t budget_ticket_ = 0;
  bool reading_ = false;  // a frame is being read (or waits for budget)
  bool waiting_budget_ = false;
  bool paused_ = false;
  uint32_t in_flight_ = 0;
  bool peer_eof_ = false;            // client half-closed: finish in-flight requests, then close
  bool close_when_flushed_ = false;  // protocol error: close once the kError is written
  bool closed_ = false;
  Clock::time_point last_frame_time_;

  // Write queue, shared with worker threads.
  absl::Mutex write_mu_;
  absl::CondVar write_cv_;  // bytes were written or the connection closed
  std::deque<OutFrame> write_queue_ ABSL_GUARDED_BY(write_mu_);
  // Where the front frame is: its part being written (0: bytes(); i > 0: ranges()[i - 1]) and
  // the bytes of that part already written.
  size_t write_part_ ABSL_GUARDED_BY(write_mu_) = 0;
  uint64_t write_offset_ ABSL_GUARDED_BY(write_mu_) = 0;
  uint64_t pending_bytes_ ABSL_GUARDED_BY(write_mu_) = 0;  // unwritten bytes in write_queue_
  // A WriteSome is posted or a write is outstanding.
  bool writing_ ABSL_GUARDED_BY(write_mu_) = false;
  bool write_closed_ ABSL_GUARDED_BY(write_mu_) = false;
  Clock::time_point last_write_progress_ ABSL_GUARDED_BY(write_mu_);
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_CONNECTION_H_
