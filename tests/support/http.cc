#include "tests/support/http.h"

#include <chrono>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/rfc2818_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::testsupport {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(10);
constexpr uint64_t kMaxBody = uint64_t{64} << 20;

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(const core::Endpoint& endpoint, std::string_view path,
                                     const std::string& ca_file) {
  const std::string url = absl::StrCat(ca_file.empty() ? "http://" : "https://",
                                       endpoint.ToString(), core::ToAbsl(path));
  if (endpoint.is_unix()) {
    return absl::InvalidArgumentError(absl::StrCat("GET ", url, ": HTTP over TCP only"));
  }
  const std::string host = endpoint.host().empty() ? "127.0.0.1" : endpoint.host();
  boost::asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto addresses = resolver.resolve(host, std::to_string(endpoint.port()), ec);
  http::request<http::empty_body> request(http::verb::get, std::string(path), 11);
  request.set(http::field::host, endpoint.host());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  auto exchange = [&](auto& stream) {
    if (!ec) {
      http::write(stream, request, ec);
    }
    if (!ec) {
      http::read(stream, buffer, parser, ec);
    }
  };
  if (ca_file.empty()) {
    beast::tcp_stream stream(io);
    stream.expires_after(kTimeout);
    if (!ec) {
      stream.connect(addresses, ec);
    }
    exchange(stream);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  } else {
    ssl::context context(ssl::context::tls_client);
    context.set_verify_mode(ssl::verify_peer);
    context.load_verify_file(ca_file, ec);
    beast::ssl_stream<beast::tcp_stream> stream(io, context);
    beast::get_lowest_layer(stream).expires_after(kTimeout);
    stream.set_verify_callback(ssl::rfc2818_verification(host));
    if (!ec) {
      beast::get_lowest_layer(stream).connect(addresses, ec);
    }
    if (!ec) {
      stream.handshake(ssl::stream_base::client, ec);
    }
    exchange(stream);
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("GET ", url, ": ", ec.message()));
  }
  const auto& message = parser.get();
  return HttpResponse{.status = static_cast<int>(message.result_int()),
                      .content_type = std::string(message[http::field::content_type]),
                      .body = std::move(parser.get().body())};
}

absl::StatusOr<std::string> HttpGetOk(const core::Endpoint& endpoint, std::string_view path,
                                      const std::string& ca_file) {
  absl::StatusOr<HttpResponse> response = HttpGet(endpoint, path, ca_file);
  if (!response.ok()) {
    return response.status();
  }
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat("GET ", ca_file.empty() ? "http://" : "https://",
                                               endpoint.ToString(), core::ToAbsl(path),
                                               " answered ", response->status));
  }
  return std::move(response->body);
}

double MetricValue(const std::string& address, const std::string& sample,
                   const std::string& ca_file) {
  absl::StatusOr<core::Endpoint> endpoint = core::Endpoint::Parse(address);
  if (!endpoint.ok()) {
    return -1;
  }
  absl::StatusOr<std::string> page = HttpGetOk(*endpoint, "/metrics", ca_file);
  if (!page.ok()) {
    return -1;
  }
  const size_t at = page->find("\n" + sample + " ");
  return at == std::string::npos ? -1 : std::stod(page->substr(at + sample.size() + 2));
}

}  // namespace shuffle::testsupport
