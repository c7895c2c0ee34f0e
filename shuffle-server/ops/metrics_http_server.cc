#include "shuffle-server/ops/metrics_http_server.h"

#include <type_traits>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "shuffle-server/dataplane/listen.h"
#include "shuffle-server/ops/status_page.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One HTTP exchange over a plain or TLS stream: (handshake,) read a request, answer it, close.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Stream stream, const MetricsHttpServer::Pages& pages)
      : stream_(std::move(stream)), pages_(pages) {}

  void Run() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) {
                                  self->Read();
                                }
                              });
    } else {
      Read();
    }
  }

 private:
  void Read() {
    http::async_read(stream_, buffer_, request_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) {
                         self->Answer();
                       }
                     });
  }

  void Close() {
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void Answer() {
    response_.version(request_.version());
    response_.keep_alive(false);
    const std::string_view target(request_.target().data(), request_.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const bool status = static_cast<bool>(pages_.status_json);
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    if (request_.method() != http::verb::get) {
      response_.result(http::status::method_not_allowed);
      response_.body() = "only GET\n";
    } else if (path == "/metrics") {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response_.body() = pages_.metrics();
    } else if (path == "/healthz") {
      response_.result(http::status::ok);
      response_.body() = "ok\n";
    } else if (status && path == "/status") {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/html; charset=utf-8");
      response_.set("Content-Security-Policy", StatusPagePolicy());
      response_.body() = std::string(StatusPageHtml());
    } else if (status && path == "/status.json") {
      AnswerStatusJson();
    } else {
      response_.result(http::status::not_found);
      response_.body() = status ? "not found: try /status, /metrics or /healthz\n"
                                : "not found: try /metrics or /healthz\n";
    }
    response_.prepare_payload();
    http::async_write(
        stream_, response_,
        [self = this->shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  void AnswerStatusJson() {
    if (pages_.authorize) {
      const auto field = request_[http::field::authorization];
      const std::string_view header(field.data(), field.size());
      constexpr std::string_view kBearer = "Bearer ";
      const std::string_view secret =
          header.substr(0, kBearer.size()) == kBearer ? header.substr(kBearer.size()) : "";
      const absl::Status allowed = pages_.authorize(secret);
      if (!allowed.ok()) {
        const bool missing = allowed.code() == absl::StatusCode::kUnauthenticated;
        response_.result(missing ? http::status::unauthorized : http::status::forbidden);
        if (missing) {
          response_.set(http::field::www_authenticate, "Bearer realm=\"shuffle-server\"");
        }
        response_.body() = std::string(allowed.message()) + "\n";
        return;
      }
    }
    response_.result(http::status::ok);
    response_.set(http::field::content_type, "application/json");
    response_.body() = pages_.status_json();
  }

  Stream stream_;
  const MetricsHttpServer::Pages& pages_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

struct MetricsHttpServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  Pages pages;
  tls::ReloadingServerContext* tls = nullptr;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        return;  // closed
      }
      if (tls == nullptr) {
        std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), pages)
            ->Run();
      } else {
        // The stream's SSL holds its own reference to the context; the Asio wrapper only lends it.
        const tls::SslCtxPtr ctx = tls->Current();
        SSL_CTX_up_ref(ctx.get());
        asio::ssl::context lent(ctx.get());
        std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), lent), pages)->Run();
      }
      Accept();
    });
  }
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, Pages pages, tls::ReloadingServerContext* tls) {
  auto server = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer());
  server->state_ = std::make_unique<State>();
  State& state = *server->state_;
  state.pages = std::move(pages);
  state.tls = tls;
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
