// HttpTransport: HTTPS requests to one API server with libcurl, one easy handle per call, so a
// transport is safe to share between threads. Internal to shuffle::kube (Client uses it).
#ifndef SHUFFLE_DRIVER_KUBE_HTTP_H_
#define SHUFFLE_DRIVER_KUBE_HTTP_H_

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "driver/kube/config.h"

namespace shuffle::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string path_and_query;  // "/api/v1/namespaces/default/pods?limit=10"
  std::string body;
  std::string content_type;                       // set when body is sent
  absl::Duration timeout = absl::ZeroDuration();  // zero: none (a streaming watch)
};

struct HttpResponse {
  long code = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, or ""
};

class HttpTransport {
 public:
  explicit HttpTransport(Config config);
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // UNAVAILABLE naming the URL for transport failures (connection refused, TLS, timeout).
  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request) const;

  // Streams a 2xx response body to `on_data` as it arrives (the response's body is then empty);
  // a non-2xx body is collected into the response instead. `on_data` returning false, or
  // `*cancel` becoming true (checked about once a second), ends the transfer: the result is then
  // CANCELLED.
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request,
                                      const std::function<bool(std::string_view)>& on_data,
                                      const std::atomic<bool>* cancel) const;

  const Config& config() const { return config_; }

 private:
  const Config config_;
};

}  // namespace shuffle::kube

#endif  // SHUFFLE_DRIVER_KUBE_HTTP_H_
