// MetricsHttpServer: a small HTTP/1.1 server (Boost.Beast) for operations: GET /metrics serves
// the page a callback renders (Prometheus text format), GET /healthz answers "ok", and with a
// status callback GET /status serves the status page (status_page.h) and GET /status.json its
// data. On a secured server /status.json needs the operator secret as "Authorization: Bearer
// SECRET" (401 without it, 403 with a wrong one); the page itself holds no data. Plaintext, or
// HTTPS with a (reloading) TLS context. One I/O thread; requests are small and rare. Start/Stop
// from any thread except the server's own.
#ifndef SHUFFLE_SERVER_OPS_METRICS_HTTP_SERVER_H_
#define SHUFFLE_SERVER_OPS_METRICS_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"

namespace shuffle::ops {

class MetricsHttpServer {
 public:
  using PageFn = std::function<std::string()>;

  struct Pages {
    PageFn metrics;      // required: /metrics
    PageFn status_json;  // /status.json; empty: no status page
    // Checks the bearer secret of a /status.json request ("" when it carries none): OK, or
    // UNAUTHENTICATED / PERMISSION_DENIED with the message the client is shown. Empty: open.
    std::function<absl::Status(std::string_view secret)> authorize;
  };

  // Listens on "host:port" (port 0 picks a free one); HTTPS with the context `tls` (it must
  // outlive the server) unless it is null.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, Pages pages, tls::ReloadingServerContext* tls = nullptr);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  uint16_t port() const { return port_; }
  void Stop();

  struct State;

 private:
  MetricsHttpServer() = default;
  std::unique_ptr<State> state_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace shuffle::ops

#endif  // SHUFFLE_SERVER_OPS_METRICS_HTTP_SERVER_H_
