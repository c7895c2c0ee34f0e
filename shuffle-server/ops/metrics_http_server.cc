#include "shuffle-server/ops/metrics_http_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "shuffle-server/dataplane/listen.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// One HTTP exchange: read a request, answer it, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const MetricsHttpServer::PageFn& metrics)
      : stream_(std::move(socket)), metrics_(metrics) {}

  void Run() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) {
                         self->Answer();
                       }
                     });
  }

 private:
  void Answer() {
    response_.version(request_.version());
    response_.keep_alive(false);
    const std::string target(request_.target());
    if (request_.method() != http::verb::get) {
      response_.result(http::status::method_not_allowed);
      response_.body() = "only GET\n";
    } else if (target == "/metrics") {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response_.body() = metrics_();
    } else if (target == "/healthz") {
      response_.result(http::status::ok);
      response_.body() = "ok\n";
    } else {
      response_.result(http::status::not_found);
      response_.body() = "not found: try /metrics or /healthz\n";
    }
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  const MetricsHttpServer::PageFn& metrics_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

struct MetricsHttpServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  PageFn metrics;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        return;  // closed
      }
      std::make_shared<Session>(std::move(socket), metrics)->Run();
      Accept();
    });
  }
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, PageFn metrics) {
  auto server = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer());
  server->state_ = std::make_unique<State>();
  State& state = *server->state_;
  state.metrics = std::move(metrics);
  auto endpoint = dataplane::ResolveListenAddress(state.io, address);
  if (!endpoint.ok()) {
    return core::Annotate(endpoint.status(), "metrics listener");
  }
  auto port = dataplane::BindTcp(state.acceptor, *endpoint, address);
  if (!port.ok()) {
    return core::Annotate(port.status(), "metrics listener");
  }
  server->port_ = *port;
  state.Accept();
  server->thread_ = std::thread([&state] { state.io.run(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (state_ == nullptr) {
    return;
  }
  state_->io.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
  state_.reset();
}

}  // namespace shuffle::ops
