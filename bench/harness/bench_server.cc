#include "bench/harness/bench_server.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/harness/scoped_fd.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr size_t kMaxMetricsPage = 16u << 20;

// GET http://HOST:PORT/path over a plain socket (the server answers and closes), bounded by a
// 10 s socket timeout and kMaxMetricsPage bytes.
absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path) {
  const size_t colon = host_port.rfind(':');
  uint32_t port = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port) ||
      inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad metrics address '", host_port, "'"));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return core::ErrnoToStatus(errno, "connect", host_port);
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return core::ErrnoToStatus(errno, "send", host_port);
  }
  std::string response;
  char buf[65536];
  while (response.size() < kMaxMetricsPage) {
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      return core::ErrnoToStatus(errno, "recv", host_port);
    }
    if (n == 0) {
      break;
    }
    response.append(buf, static_cast<size_t>(n));
  }
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) {
    return absl::UnavailableError(
        absl::StrCat("GET http://", host_port, path, " did not answer 200 OK"));
  }
  return response.substr(body + 4);
}

}  // namespace

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
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> process = testing::ServerProcess::Start(
      spec_.binary, spec_.dir, "bench-node", socket, "127.0.0.1:0", args);
  if (!process.ok()) {
    return core::Annotate(process.status(),
                          absl::StrCat("starting ", spec_.binary, " in ", spec_.dir));
  }
  start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  process_ = std::move(*process);
  // ServerProcess names the socket when there is one; the TCP address is in the ready file.
  std::ifstream in(spec_.dir + "/ready");
  std::string field;
  tcp_address_.clear();
  while (in >> field) {
    if (field.rfind("data=", 0) == 0) {
      tcp_address_ = field.substr(5);
    }
  }
  unix_address_ = socket.empty() ? "" : "unix:" + socket;
  if (tcp_address_.empty()) {
    return absl::InternalError(absl::StrCat("no data= address in ", spec_.dir, "/ready"));
  }
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
  SHUFFLE_ASSIGN_OR_RETURN(std::string page, HttpGet(process_->metrics_address(), "/metrics"));
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

}  // namespace shuffle::bench
