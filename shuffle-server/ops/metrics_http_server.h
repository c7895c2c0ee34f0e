// MetricsHttpServer: a small HTTP/1.1 server (Boost.Beast) for operations: GET /metrics serves
// the page a callback renders (Prometheus text format), GET /healthz answers "ok". One I/O
// thread; scrapes are small and rare. Start/Stop from any thread except the server's own.
#ifndef SHUFFLE_SERVER_OPS_METRICS_HTTP_SERVER_H_
#define SHUFFLE_SERVER_OPS_METRICS_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace shuffle::ops {

class MetricsHttpServer {
 public:
  using PageFn = std::function<std::string()>;

  // Listens on "host:port" (port 0 picks a free one).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  PageFn metrics);
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
