#include "tests/support/http.h"

#include <chrono>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::testsupport {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(10);
constexpr uint64_t kMaxBody = uint64_t{64} << 20;

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(const core::Endpoint& endpoint, std::string_view path) {
  const std::string url = absl::StrCat("http://", endpoint.ToString(), core::ToAbsl(path));
  if (endpoint.is_unix()) {
    return absl::InvalidArgumentError(absl::StrCat("GET ", url, ": HTTP over TCP only"));
  }
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto addresses = resolver.resolve(endpoint.host().empty() ? "127.0.0.1" : endpoint.host(),
                                          std::to_string(endpoint.port()), ec);
  stream.expires_after(kTimeout);
  if (!ec) {
    stream.connect(addresses, ec);
  }
  http::request<http::empty_body> request(http::verb::get, std::string(path), 11);
  request.set(http::field::host, endpoint.host());
  if (!ec) {
    http::write(stream, request, ec);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  if (!ec) {
    http::read(stream, buffer, parser, ec);
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("GET ", url, ": ", ec.message()));
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  const auto& message = parser.get();
  return HttpResponse{.status = static_cast<int>(message.result_int()),
                      .content_type = std::string(message[http::field::content_type]),
                      .body = std::move(parser.get().body())};
}

absl::StatusOr<std::string> HttpGetOk(const core::Endpoint& endpoint, std::string_view path) {
  absl::StatusOr<HttpResponse> response = HttpGet(endpoint, path);
  if (!response.ok()) {
    return response.status();
  }
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat("GET http://", endpoint.ToString(),
                                               core::ToAbsl(path), " answered ", response->status));
  }
  return std::move(response->body);
}

}  // namespace shuffle::testsupport
