// DataPlaneServer: the shuffle server's data plane. Listens on TCP and/or a Unix domain socket,
// speaks the framed binary protocol (core/frame.h, proto/data.proto) and turns push, commit and
// fetch requests into StorageEngine calls.
//
// Threads: `io_threads` run every socket (reads, writes, timers, accepts) and never block;
// `worker_threads` run the engine calls, which do. Memory is bounded whatever clients do: see
// connection.h for the per-connection limits and options.h for the server-wide request budget.
//
// Thread-safety: every public method may be called from any thread, except that Stop() (and the
// destructor) must not be called from the server's own I/O or worker threads.
#ifndef SHUFFLE_SERVER_DATAPLANE_SERVER_H_
#define SHUFFLE_SERVER_DATAPLANE_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/dataplane/connection.h"
#include "shuffle-server/dataplane/handlers.h"
#include "shuffle-server/dataplane/options.h"
#include "shuffle-server/dataplane/payload_budget.h"
#include "shuffle-server/dataplane/stats.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/core/gate.h"

namespace shuffle::dataplane {

class DataPlaneServer {
 public:
  // Binds the listeners and starts serving. `engine` must outlive the server. Fails, naming the
  // address or path, when neither listener is configured or binding fails.
  static absl::StatusOr<std::unique_ptr<DataPlaneServer>> Start(const DataPlaneOptions& options,
                                                                storage::StorageEngine* engine);

  // Stop().
  ~DataPlaneServer();
  DataPlaneServer(const DataPlaneServer&) = delete;
  DataPlaneServer& operator=(const DataPlaneServer&) = delete;

  // Stops accepting, closes every connection (fetch streams are cancelled), waits for running
  // engine calls to return and joins all threads; removes the Unix socket file. Idempotent.
  void Stop();

  // Stops accepting new connections and waits until no request is in flight and every response
  // is written, or the deadline passes (DEADLINE_EXCEEDED). Connections stay open.
  absl::Status Drain(std::chrono::steady_clock::time_point deadline);

  // The bound TCP port (0 without a TCP listener).
  uint16_t tcp_port() const { return tcp_port_; }
  // What MapStatus.address carries.
  const std::string& advertise_address() const { return advertise_address_; }

  DataPlaneStats stats() const;

 private:
  DataPlaneServer(const DataPlaneOptions& options, storage::StorageEngine* engine);

  absl::Status ListenTcp();
  absl::Status ListenUnix();
  // Finds out the send buffer the kernel grants Unix-socket connections, and says (a warning)
  // when it is less than options_.unix_send_buffer_bytes asks for.
  void CheckUnixSendBuffer();
  void AcceptTcp();
  void AcceptUnix();
  void RetryAcceptLater(void (DataPlaneServer::*accept)());
  void Adopt(Connection::Socket socket, std::string peer, const tls::SslCtxPtr& tls = nullptr);
  void StopAccepting();
  bool OnServerThread();

  const DataPlaneOptions options_;
  DataPlaneCounters counters_;
  core::Gate open_connections_;  // adopted and not yet closed; Stop() waits (bounded) for none
  PayloadBudget budget_;
  RequestHandler handler_;
  // Declared before everything holding sockets or handlers, so destroyed after them.
  boost::asio::io_context io_;
  boost::asio::thread_pool workers_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::strand<boost::asio::io_context::executor_type> accept_strand_;
  boost::asio::ip::tcp::acceptor tcp_acceptor_;
  boost::asio::local::stream_protocol::acceptor unix_acceptor_;
  ConnectionContext connection_context_;
  std::vector<std::thread> io_threads_;
  uint16_t tcp_port_ = 0;
  std::string advertise_address_;
  bool created_socket_file_ = false;
  // What CheckUnixSendBuffer found; written once in Start, before any thread reads it.
  uint64_t unix_send_buffer_granted_ = 0;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  uint64_t next_connection_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_SERVER_H_
