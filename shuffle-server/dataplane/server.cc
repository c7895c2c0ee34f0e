#include "shuffle-server/dataplane/server.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/dataplane/listen.h"
#include "shuffle-server/dataplane/send_file.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::dataplane {
namespace {

using boost::asio::ip::tcp;
using core::Kv;
using LocalProtocol = boost::asio::local::stream_protocol;

// How long Stop() waits for connections to close on the I/O threads before stopping them anyway.
constexpr std::chrono::seconds kCloseWait{2};
constexpr std::chrono::milliseconds kAcceptRetry{100};
// How often Drain() looks at the unwritten response bytes once no request is in flight.
constexpr absl::Duration kDrainPoll = absl::Milliseconds(5);

}  // namespace

DataPlaneServer::DataPlaneServer(const DataPlaneOptions& options, storage::StorageEngine* engine)
    : options_(options),
      budget_(options.request_buffer_budget_bytes),
      handler_(engine, options),
      workers_(std::max<uint32_t>(options.worker_threads, 1)),
      accept_strand_(boost::asio::make_strand(io_)),
      tcp_acceptor_(io_),
      unix_acceptor_(io_) {
  connection_context_ = ConnectionContext{
      .io = &io_,
      .options = &options_,
      .handler = &handler_,
      .workers = &workers_,
      .budget = &budget_,
      .counters = &counters_,
      .on_closed =
          [this](uint64_t id) {
            {
              absl::MutexLock lock(&mu_);
              connections_.erase(id);
            }
            open_connections_.Leave();
          },
  };
}

absl::StatusOr<std::unique_ptr<DataPlaneServer>> DataPlaneServer::Start(
    const DataPlaneOptions& options, storage::StorageEngine* engine) {
  if (options.listen_address.empty() && options.socket_path.empty()) {
    return absl::InvalidArgumentError(
        "data plane has nowhere to listen: set listen_address (host:port) or socket_path");
  }
  std::unique_ptr<DataPlaneServer> server(new DataPlaneServer(options, engine));
  if (!options.listen_address.empty()) {
    SHUFFLE_RETURN_IF_ERROR(server->ListenTcp());
  }
  if (!options.socket_path.empty()) {
    SHUFFLE_RETURN_IF_ERROR(server->ListenUnix());
    server->CheckUnixSendBuffer();
  }
  server->advertise_address_ = options.advertise_address;
  if (server->advertise_address_.empty()) {
    server->advertise_address_ =
        options.listen_address.empty()
            ? core::Endpoint::Unix(options.socket_path).ToString()
            : core::Endpoint::Parse(options.listen_address)->WithPort(server->tcp_port_).ToString();
  }
  server->handler_.set_advertise_address(server->advertise_address_);
  if (options.control_port != 0) {  // the advertised host, at the control plane's port
    absl::StatusOr<core::Endpoint> advertised = core::Endpoint::Parse(server->advertise_address_);
    if (advertised.ok() && !advertised->is_unix()) {
      server->handler_.set_control_address(advertised->WithPort(options.control_port).ToString());
    }
  }
  server->work_.emplace(server->io_.get_executor());
  if (server->tcp_acceptor_.is_open()) {
    boost::asio::post(server->accept_strand_, [s = server.get()] { s->AcceptTcp(); });
  }
  if (server->unix_acceptor_.is_open()) {
    boost::asio::post(server->accept_strand_, [s = server.get()] { s->AcceptUnix(); });
  }
  const uint32_t io_threads = std::max<uint32_t>(options.io_threads, 1);
  for (uint32_t i = 0; i < io_threads; ++i) {
    server->io_threads_.emplace_back([s = server.get()] {
      BlockSigpipe();  // connections send fetch payloads with sendfile on these threads
      s->io_.run();
    });
  }
  SHUFFLE_LOG(INFO) << "data plane serving" << Kv("tcp_port", server->tcp_port_)
                    << Kv("tls", options.tls != nullptr ? "on" : "off")
                    << Kv("socket", options.socket_path)
                    << Kv("advertise", server->advertise_address_) << Kv("io_threads", io_threads)
                    << Kv("worker_threads", options.worker_threads);
  return server;
}

DataPlaneServer::~DataPlaneServer() { Stop(); }

absl::Status DataPlaneServer::ListenTcp() {
  SHUFFLE_ASSIGN_OR_RETURN(tcp::endpoint endpoint,
                           ResolveListenAddress(io_, options_.listen_address));
  SHUFFLE_ASSIGN_OR_RETURN(tcp_port_, BindTcp(tcp_acceptor_, endpoint, options_.listen_address));
  return absl::OkStatus();
}

void DataPlaneServer::CheckUnixSendBuffer() {
  const uint64_t asked = options_.unix_send_buffer_bytes;
  if (asked == 0) {
    return;
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return;
  }
  const uint64_t granted = SetSendBuffer(pair[0], asked);
  close(pair[0]);
  close(pair[1]);
  unix_send_buffer_granted_ = granted;
  if (granted < asked) {
    SHUFFLE_LOG(WARNING) << "the kernel grants Unix-socket connections a smaller send buffer "
                            "than asked, so hot fetches over the socket stall more often; raise "
                            "net.core.wmem_max on the node, or give the server CAP_NET_ADMIN"
                         << Kv("asked_bytes", asked) << Kv("granted_bytes", granted);
  }
}

absl::Status DataPlaneServer::ListenUnix() {
  SHUFFLE_RETURN_IF_ERROR(BindUnix(unix_acceptor_, options_.socket_path));
  created_socket_file_ = true;
  return absl::OkStatus();
}

void DataPlaneServer::AcceptTcp() {
  tcp_acceptor_.async_accept(boost::asio::bind_executor(
      accept_strand_, [this](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !tcp_acceptor_.is_open()) {
          return;
        }
        if (ec) {
          SHUFFLE_LOG(WARNING) << "data-plane accept failed; retrying"
                               << Kv("listener", options_.listen_address)
                               << Kv("error", ec.message());
          RetryAcceptLater(&DataPlaneServer::AcceptTcp);
          return;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const tcp::endpoint remote = socket.remote_endpoint(ignored);
        std::string peer = absl::StrCat("tcp:", remote.address().to_string(), ":", remote.port());
        Adopt(Connection::Socket(std::move(socket)), std::move(peer),
              options_.tls != nullptr ? options_.tls->Current() : nullptr);
        AcceptTcp();
      }));
}

void DataPlaneServer::AcceptUnix() {
  unix_acceptor_.async_accept(boost::asio::bind_executor(
      accept_strand_, [this](const boost::system::error_code& ec, LocalProtocol::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !unix_acceptor_.is_open()) {
          return;
        }
        if (ec) {
          SHUFFLE_LOG(WARNING) << "data-plane accept failed; retrying"
                               << Kv("listener", options_.socket_path) << Kv("error", ec.message());
          RetryAcceptLater(&DataPlaneServer::AcceptUnix);
          return;
        }
        if (options_.unix_send_buffer_bytes > 0) {
          SetSendBuffer(socket.native_handle(), options_.unix_send_buffer_bytes);
        }
        uint64_t id = 0;
        {
          absl::MutexLock lock(&mu_);
          id = next_connection_id_;
        }
        Adopt(Connection::Socket(std::move(socket)),
              absl::StrCat("unix:", options_.socket_path, "#", id));
        AcceptUnix();
      }));
}

void DataPlaneServer::RetryAcceptLater(void (DataPlaneServer::*accept)()) {
  // Typically EMFILE: back off instead of spinning until a descriptor frees up.
  auto timer = std::make_shared<boost::asio::steady_timer>(accept_strand_, kAcceptRetry);
  timer->async_wait([this, timer, accept](const boost::system::error_code& ec) {
    if (!ec) {
      (this->*accept)();
    }
  });
}

void DataPlaneServer::Adopt(Connection::Socket socket, std::string peer,
                            const tls::SslCtxPtr& tls) {
  std::shared_ptr<Connection> connection;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      return;  // the socket closes as it goes out of scope
    }
    const uint64_t id = next_connection_id_++;
    connection = std::make_shared<Connection>(std::move(socket), std::move(peer), id,
                                              connection_context_, tls);
    connections_.emplace(id, connection);
    open_connections_.Enter();  // left by on_closed
  }
  DataPlaneCounters::Add(counters_.connections_accepted);
  DataPlaneCounters::Add(counters_.connections_open);
  SHUFFLE_LOG(DEBUG) << "accepted data-plane connection" << Kv("peer", connection->peer());
  connection->Start();
}

void DataPlaneServer::StopAccepting() {
  boost::asio::post(accept_strand_, [this] {
    boost::system::error_code ignored;
    tcp_acceptor_.close(ignored);
    unix_acceptor_.close(ignored);
  });
}

bool DataPlaneServer::OnServerThread() {
  if (workers_.get_executor().running_in_this_thread()) {
    return true;
  }
  return std::any_of(io_threads_.begin(), io_threads_.end(),
                     [](const std::thread& t) { return t.get_id() == std::this_thread::get_id(); });
}

void DataPlaneServer::Stop() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    for (const auto& [id, weak] : connections_) {
      if (std::shared_ptr<Connection> connection = weak.lock()) {
        open.push_back(std::move(connection));
      }
    }
  }
  SHUFFLE_CHECK(!OnServerThread()) << "DataPlaneServer::Stop called from one of its own threads";
  StopAccepting();
  for (const std::shared_ptr<Connection>& connection : open) {
    connection->Shutdown("server stopping");
  }
  open.clear();
  // Let the I/O threads close the sockets (bounded), then drain the workers: blocked fetch
  // streams were woken by Shutdown(), and queued requests of closed connections return at once
  // without calling the engine.
  open_connections_.AwaitIdle(absl::Now() + absl::FromChrono(kCloseWait));
  workers_.join();
  const bool started = work_.has_value();
  work_.reset();
  io_.stop();
  for (std::thread& thread : io_threads_) {
    thread.join();
  }
  io_threads_.clear();
  if (created_socket_file_) {
    unlink(options_.socket_path.c_str());
  }
  if (started) {
    SHUFFLE_LOG(INFO) << "data plane stopped" << Kv("tcp_port", tcp_port_)
                      << Kv("socket", options_.socket_path);
  }
}

absl::Status DataPlaneServer::Drain(std::chrono::steady_clock::time_point deadline) {
  StopAccepting();
  const absl::Time until =
      absl::Now() + absl::FromChrono(deadline - std::chrono::steady_clock::now());
  while (true) {
    const bool idle = counters_.requests.AwaitIdle(std::min(until, absl::Now() + kDrainPoll));
    const uint64_t pending = counters_.pending_write_bytes.load(std::memory_order_relaxed);
    if (idle && pending == 0) {
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("draining the data plane: ", counters_.requests.in_flight(),
                       " requests still in flight and ", pending,
                       " response bytes unwritten at the deadline; Stop() cancels them"));
    }
    if (idle) {
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(kDrainPoll));
    }
  }
}

DataPlaneStats DataPlaneServer::stats() const {
  DataPlaneStats stats = counters_.Snapshot();
  stats.request_buffer_bytes = budget_.used();
  stats.max_request_buffer_bytes = budget_.high_water();
  stats.unix_send_buffer_bytes = unix_send_buffer_granted_;
  stats.push_latency = handler_.latencies().push.Take();
  stats.commit_latency = handler_.latencies().commit.Take();
  stats.fetch_latency = handler_.latencies().fetch.Take();
  stats.lookup_latency = handler_.latencies().lookup.Take();
  return stats;
}

}  // namespace shuffle::dataplane
