#include "bench/harness/bench_server.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"
#include "tests/support/http.h"

namespace shuffle::bench {

absl::StatusOr<std::unique_ptr<BenchServer>> BenchServer::Start(const BenchServerSpec& spec) {
  auto server = std::unique_ptr<BenchServer>(new BenchServer(spec));
  std::error_code ec;
  std::filesystem::create_directories(spec.dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", spec.dir, ": ", ec.message()));
  }
  SHUFFLE_RETURN_IF_ERROR(server->Launch());
  return server;
}

BenchServer::~BenchServer() {
  process_.reset();  // SIGKILL and reap by PID
  std::error_code ec;
  std::filesystem::remove_all(spec_.dir, ec);
}

absl::Status BenchServer::Launch() {
  const std::string socket = spec_.unix_socket ? spec_.dir + "/data.sock" : "";
  // The server's own defaults for memory, not the integration tests' small budget.
  std::vector<std::string> args = {"--memory-budget-mib=256", "--app-ttl-minutes=0",
                                   "--log-level=error"};
  args.insert(args.end(), spec_.extra_args.begin(), spec_.extra_args.end());
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<testsupport::ServerProcess>> process =
      testsupport::ServerProcess::Start(spec_.binary, spec_.dir, "bench-node", socket,
                                        "127.0.0.1:0", args);
  if (!process.ok()) {
    return core::Annotate(process.status(),
                          absl::StrCat("starting ", spec_.binary, " in ", spec_.dir));
  }
  start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  process_ = std::move(*process);
  client::ClientOptions control_tls;
  control_tls.tls_ca_file = spec_.tls_ca_file;
  process_->set_control_tls(control_tls);
  const std::optional<core::Endpoint> tcp = process_->ready().Find(core::ReadyFile::kData);
  const std::optional<core::Endpoint> unix = process_->ready().Find(core::ReadyFile::kSocket);
  if (!tcp.has_value()) {
    return absl::InternalError(absl::StrCat("no data address in ", spec_.dir, "/ready"));
  }
  tcp_address_ = tcp->ToString();
  unix_address_ = unix.has_value() ? unix->ToString() : "";
  return absl::OkStatus();
}

absl::StatusOr<double> BenchServer::KillAndRestart() {
  process_.reset();  // SIGKILL and reap
  SHUFFLE_RETURN_IF_ERROR(Launch());
  return start_seconds_;
}

absl::StatusOr<client::ShuffleHandle> BenchServer::RegisterShuffle(uint32_t shuffle,
                                                                   uint32_t partitions) {
  SHUFFLE_RETURN_IF_ERROR(process_->RegisterShuffle(kAppId, shuffle, partitions));
  return client::ShuffleHandle{.app_id = kAppId,
                               .token = "",
                               .shuffle = core::ShuffleId(shuffle),
                               .num_partitions = partitions};
}

absl::Status BenchServer::Seal(const client::ShuffleHandle& handle) {
  return process_->SealShuffle(handle.app_id, handle.shuffle.value());
}

absl::StatusOr<std::map<std::string, double>> BenchServer::ScrapeMetrics() const {
  const std::optional<core::Endpoint> endpoint = process_->ready().Find(core::ReadyFile::kMetrics);
  if (!endpoint.has_value()) {
    return absl::FailedPreconditionError("the server has no metrics endpoint");
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::string page,
                           testsupport::HttpGetOk(*endpoint, "/metrics", spec_.tls_ca_file));
  std::map<std::string, double> metrics;
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const size_t name_end = line.find_first_of("{ ");
    const size_t value_start = line.rfind(' ');
    double value = 0;
    if (name_end == std::string::npos || value_start == std::string::npos ||
        !absl::SimpleAtod(line.substr(value_start + 1), &value)) {
      continue;
    }
    metrics[line.substr(0, name_end)] += value;
  }
  return metrics;
}

absl::StatusOr<double> BenchServer::Metric(const std::string& name) const {
  SHUFFLE_ASSIGN_OR_RETURN(auto metrics, ScrapeMetrics());
  auto it = metrics.find(name);
  if (it == metrics.end()) {
    return absl::NotFoundError(absl::StrCat("the server's /metrics has no ", name));
  }
  return it->second;
}

absl::StatusOr<ResourceUse> BenchServer::Use() const {
  if (process_ == nullptr) {
    return absl::FailedPreconditionError("the server is not running");
  }
  return ProcessUse(process_->pid());
}

}  // namespace shuffle::bench
