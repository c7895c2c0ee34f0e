// HttpGet: one HTTP/1.1 GET (Boost.Beast), plain or HTTPS, for tests and benchmarks that read a
// server's /metrics or /healthz. Bounded by a 10 s timeout and a 64 MiB body. Thread-safe.
#ifndef SHUFFLE_TESTS_SUPPORT_HTTP_H_
#define SHUFFLE_TESTS_SUPPORT_HTTP_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "shuffle/core/endpoint.h"

namespace shuffle::testsupport {

struct HttpResponse {
  int status = 0;            // 200, 404, ...
  std::string content_type;  // the Content-Type header, "" when there is none
  std::string body;
};

// GET http://ENDPOINT/path, or https:// when `ca_file` is set (the server's certificate checked
// against it and the endpoint's host). UNAVAILABLE naming the URL when it cannot connect or the
// exchange (the TLS handshake included) fails; any HTTP status is a response.
absl::StatusOr<HttpResponse> HttpGet(const core::Endpoint& endpoint, std::string_view path,
                                     const std::string& ca_file = "");

// The body of a 200 answer; UNAVAILABLE naming the URL and the status otherwise.
absl::StatusOr<std::string> HttpGetOk(const core::Endpoint& endpoint, std::string_view path,
                                      const std::string& ca_file = "");

// The value of one sample (its name and labels as the page prints them, e.g.
// `shuffle_tls_handshakes_total{result="ok"}`) of the Prometheus page at `address`'s /metrics
// ("host:port"; through TLS checked with `ca_file` when it is set); -1 when the page cannot be
// read or has no such sample.
double MetricValue(const std::string& address, const std::string& sample,
                   const std::string& ca_file = "");

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_HTTP_H_
