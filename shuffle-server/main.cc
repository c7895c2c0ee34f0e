// shuffle-server: the node-local shuffle daemon. Parses its flags (server_options.h), starts a
// Server (server.h: storage engine, control plane, data plane, metrics, ready file), serves until
// SIGTERM or SIGINT, then drains and stops in order within --drain-timeout-seconds. Exit codes:
// 0 after a clean stop (and for --help), 1 when start-up fails, 2 for a bad command line or
// configuration file.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "shuffle-server/control/control_service.h"
#include "shuffle-server/dataplane/options.h"
#include "shuffle-server/memory_reuse.h"
#include "shuffle-server/server.h"
#include "shuffle-server/server_options.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/logging.h"

namespace shuffle::server {
namespace {

using core::Kv;

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) {
    return "localhost";
  }
  return name;
}

// Blocks the stop signals in this thread before any other thread exists, so every thread the
// servers start inherits the mask and only WaitForStopSignal() sees them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a peer closing a socket must not kill the server
  return set;
}

// Every shuffle holds two descriptors per data directory (an O_DIRECT one for writes, a buffered
// one that sendfile reads) plus its commit log, and every client a socket: the usual soft limit
// of 1024 open files would cap a busy node at a few hundred shuffles. Raise it to the hard limit.
void RaiseOpenFileLimit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      SHUFFLE_LOG(WARNING) << "cannot raise the open-file limit" << Kv("soft", before)
                           << Kv("hard", limit.rlim_max);
    }
  }
}

int WaitForStopSignal(const sigset_t& set) {
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

int Run(const ServerOptions& options, const sigset_t& stop_signals) {
  SHUFFLE_LOG(INFO) << "shuffle-server starting" << Kv("version", control::ServerVersion())
                    << Kv("node", options.node_name) << Kv("listen", options.listen)
                    << Kv("socket", options.socket_path)
                    << Kv("control_listen", options.control_listen)
                    << Kv("config", options.config_file);
  RaiseOpenFileLimit();
  // Freed memory stays for reuse up to what the server may hold anyway: its blocks in memory and
  // its buffered requests (memory_reuse.h).
  const uint64_t retain_bytes =
      (options.memory_budget_mib << 20) + dataplane::DataPlaneOptions{}.request_buffer_budget_bytes;
  if (absl::Status st = RetainFreedMemory(retain_bytes); !st.ok()) {
    SHUFFLE_LOG(WARNING) << "freed memory goes back to the kernel" << Kv("error", st.message());
  }
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  if (!server.ok()) {
    SHUFFLE_LOG(ERROR) << "shuffle-server failed to start"
                       << Kv("error", server.status().ToString());
    std::fprintf(stderr, "shuffle-server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  SHUFFLE_LOG(INFO) << "shuffle-server serving";
  const int signal = WaitForStopSignal(stop_signals);
  SHUFFLE_LOG(INFO) << "stopping" << Kv("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  SHUFFLE_LOG(INFO) << "shuffle-server stopped";
  return 0;
}

int Main(int argc, char** argv) {
  const sigset_t stop_signals = BlockStopSignals();
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  absl::StatusOr<ServerOptions> options = ParseServerOptions(args, ProcessEnv, Hostname());
  if (!options.ok()) {
    return core::ReportUsageError("shuffle-server", options.status());
  }
  if (options->help) {
    std::fputs(ServerUsage().c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::printf("shuffle-server %s\n", std::string(control::ServerVersion()).c_str());
    return 0;
  }
  // Validated by ParseServerOptions.
  core::SetLogLevel(core::ParseLogLevel(options->log_level).value_or(core::LogLevel::kInfo));
  core::SetLogFormat(core::ParseLogFormat(options->log_format).value_or(core::LogFormat::kLogfmt));
  return Run(*options, stop_signals);
}

}  // namespace
}  // namespace shuffle::server

int main(int argc, char** argv) { return shuffle::server::Main(argc, argv); }
