// BenchServer: one real shuffle-server process for a scenario, with its own directory under the
// run's temporary directory (data, index, ready file, Unix socket). Started with port 0 and
// --ready-file (through the test support's ServerProcess), stopped by its PID, and its
// directory removed when the object dies, whatever happened before. Also scrapes the server's
// Prometheus /metrics. Not thread-safe: one owner.
#ifndef SHUFFLE_BENCH_HARNESS_BENCH_SERVER_H_
#define SHUFFLE_BENCH_HARNESS_BENCH_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/harness/cpu_meter.h"
#include "shuffle/client/options.h"
#include "tests/support/server_process.h"

namespace shuffle::bench {

struct BenchServerSpec {
  std::string binary;  // shuffle-server
  std::string dir;     // created; removed with the server
  bool unix_socket = false;
  std::vector<std::string> extra_args;
  // The CA of a server started with --tls-cert-file (in extra_args): its control plane and
  // /metrics are then reached through TLS.
  std::string tls_ca_file;
};

class BenchServer {
 public:
  static absl::StatusOr<std::unique_ptr<BenchServer>> Start(const BenchServerSpec& spec);
  ~BenchServer();  // SIGKILL by PID, then remove the directory
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  // SIGKILLs the server and starts it again on the same directories; returns the seconds from
  // the start to the ready file (polled every 20 ms). Addresses change (port 0).
  absl::StatusOr<double> KillAndRestart();

  const std::string& tcp_address() const { return tcp_address_; }    // "127.0.0.1:PORT"
  const std::string& unix_address() const { return unix_address_; }  // "unix:PATH" or ""
  double start_seconds() const { return start_seconds_; }            // of the last start
  // The server's CPU time and page faults so far (ProcessUse of its PID).
  absl::StatusOr<ResourceUse> Use() const;

  // An open server (no secrets): the shuffle handle for `shuffle`, registered.
  absl::StatusOr<client::ShuffleHandle> RegisterShuffle(uint32_t shuffle, uint32_t partitions);
  absl::Status Seal(const client::ShuffleHandle& handle);

  // Every sample of /metrics, summed over labels: name -> value.
  absl::StatusOr<std::map<std::string, double>> ScrapeMetrics() const;
  // One metric (summed over labels); NOT_FOUND when the page lacks it.
  absl::StatusOr<double> Metric(const std::string& name) const;

  static constexpr const char* kAppId = "shuffle-bench";

 private:
  explicit BenchServer(BenchServerSpec spec) : spec_(std::move(spec)) {}
  absl::Status Launch();

  BenchServerSpec spec_;
  std::unique_ptr<testsupport::ServerProcess> process_;
  std::string tcp_address_;
  std::string unix_address_;
  double start_seconds_ = 0;
};

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_BENCH_SERVER_H_
