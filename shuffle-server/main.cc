// shuffle-server: the node-local shuffle daemon. Opens the storage engine (recovering what a
// previous run left), starts the gRPC control plane and the data plane, announces itself in the
// --ready-file, then serves until SIGTERM or SIGINT and stops in order within
// --drain-timeout-seconds: the Drainer (health NOT_SERVING; pushes, commits and registrations
// refused; commits in flight finished; data synced: the same procedure as the Drain RPC), data
// plane drained of its requests and stopped, control plane shut down, engine closed. Exit codes:
// 0 after a clean stop (and for --help), 1 when start-up fails, 2 for a bad command line or
// configuration file.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/control/control_server.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle-server/control/drainer.h"
#include "shuffle-server/dataplane/server.h"
#include "shuffle-server/ops/metrics_http_server.h"
#include "shuffle-server/ops/server_metrics.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle-server/server_options.h"
#include "shuffle-server/sparkess/server.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::server {
namespace {

using core::Kv;

constexpr auto kControlShutdownTimeout = std::chrono::seconds(5);

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

absl::Status WriteReadyFile(const std::string& path, const std::string& line) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << line;
    out.flush();
    if (!out) {
      return absl::UnavailableError(absl::StrCat("cannot write the ready file ", tmp,
                                                 ": check that its directory exists and is "
                                                 "writable (--ready-file)"));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // readers never see a partial line
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

void LogRecovery(const storage::RecoveryReport& r) {
  SHUFFLE_LOG(INFO) << "storage engine open" << Kv("epoch", r.epoch) << Kv("shuffles", r.shuffles)
                    << Kv("commits", r.commits) << Kv("extents", r.extents)
                    << Kv("extent_blocks", r.extent_blocks)
                    << Kv("log_regions_replayed", r.log_regions_replayed)
                    << Kv("log_blocks_replayed", r.log_blocks_replayed)
                    << Kv("log_blocks_already_in_extents", r.log_blocks_already_in_extents)
                    << Kv("corrupt_log_blocks", r.corrupt_log_blocks)
                    << Kv("bytes_truncated", r.bytes_truncated)
                    << Kv("orphan_dirs_removed", r.orphan_dirs_removed) << Kv("seconds", r.seconds);
  if (r.corrupt_log_blocks > 0) {
    SHUFFLE_LOG(WARNING) << "recovery found corrupt commit-log blocks; the attempts they belong "
                            "to were not committed and will be re-run"
                         << Kv("corrupt_log_blocks", r.corrupt_log_blocks);
  }
}

// Removes idle applications every few minutes (a quarter of the TTL, at most 5 minutes).
class IdleReaper {
 public:
  IdleReaper(storage::StorageEngine* engine, absl::Duration ttl)
      : engine_(engine), ttl_(ttl), thread_([this] { Run(); }) {}
  ~IdleReaper() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  IdleReaper(const IdleReaper&) = delete;
  IdleReaper& operator=(const IdleReaper&) = delete;

 private:
  void Run() {
    const absl::Duration period = std::min(ttl_ / 4, absl::Minutes(5));
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), period)) {
      mu_.Unlock();
      absl::StatusOr<std::vector<core::AppId>> removed = engine_->RemoveIdleApplications(ttl_);
      if (!removed.ok()) {
        SHUFFLE_LOG(WARNING) << "idle-application cleanup failed"
                             << Kv("error", removed.status().message());
      }
      mu_.Lock();
    }
  }
  storage::StorageEngine* const engine_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// The running servers, in start order; destroyed in reverse.
struct Servers {
  std::unique_ptr<security::TokenAuthority> tokens;
  std::unique_ptr<storage::StorageEngine> engine;
  std::unique_ptr<control::Drainer> drainer;
  std::unique_ptr<control::ControlService> service;
  std::unique_ptr<control::ControlServer> control;
  std::unique_ptr<dataplane::DataPlaneServer> data;
  std::unique_ptr<sparkess::SparkEssServer> spark;
  std::unique_ptr<ops::MetricsHttpServer> metrics;
  std::unique_ptr<IdleReaper> reaper;
};

absl::Status StartServers(const ServerOptions& options, Servers* s) {
  SHUFFLE_LOG(INFO) << "opening storage engine" << Kv("data_dirs", options.data_dirs.size())
                    << Kv("first_data_dir", options.data_dirs.front());
  const storage::EngineOptions engine_options = ToEngineOptions(options);
  SHUFFLE_ASSIGN_OR_RETURN(s->engine, storage::StorageEngine::Open(engine_options));
  LogRecovery(s->engine->recovery_report());

  s->drainer = std::make_unique<control::Drainer>(
      s->engine.get(), absl::Seconds(static_cast<int64_t>(options.drain_timeout_seconds)));
  control::ControlServiceOptions control_options;
  control_options.node_name = options.node_name;
  control_options.data_dirs = engine_options.data_dirs;
  control_options.drainer = s->drainer.get();
  if (!options.secret_file.empty()) {
    SHUFFLE_ASSIGN_OR_RETURN(s->tokens, security::TokenAuthority::FromFile(options.secret_file));
    SHUFFLE_ASSIGN_OR_RETURN(control_options.registration_secret,
                             security::ReadSecretFile(options.registration_secret_file));
    control_options.token_authority = s->tokens.get();
    SHUFFLE_LOG(INFO) << "application tokens required" << Kv("secret_file", options.secret_file);
  } else {
    SHUFFLE_LOG(WARNING) << "RUNNING UNAUTHENTICATED: no --secret-file, so any client can read, "
                            "write or delete any application's shuffle data";
  }
  s->service = std::make_unique<control::ControlService>(s->engine.get(), control_options);
  SHUFFLE_ASSIGN_OR_RETURN(s->control,
                           control::ControlServer::Start(options.control_listen, s->service.get()));
  s->drainer->OnStart([control = s->control.get()] {
    SHUFFLE_LOG(INFO) << "health NOT_SERVING";
    control->SetServing(false);
  });

  SHUFFLE_ASSIGN_OR_RETURN(std::string advertise, AdvertiseAddress(options, ProcessEnv));
  dataplane::DataPlaneOptions data_options = ToDataPlaneOptions(options, advertise);
  data_options.token_authority = s->tokens.get();
  data_options.control_port = s->control->port();
  SHUFFLE_ASSIGN_OR_RETURN(s->data,
                           dataplane::DataPlaneServer::Start(data_options, s->engine.get()));
  if (std::optional<sparkess::SparkEssOptions> spark = ToSparkEssOptions(options)) {
    SHUFFLE_ASSIGN_OR_RETURN(s->spark,
                             sparkess::SparkEssServer::Start(*spark, s->engine->side_index()));
  }
  if (!options.metrics_listen.empty()) {
    ops::MetricsSources sources{.engine = s->engine.get(),
                                .data_dirs = engine_options.data_dirs,
                                .env = storage::Env::Default(),
                                .dataplane = [data = s->data.get()] { return data->stats(); },
                                .spark = {}};
    if (s->spark != nullptr) {
      sources.spark = [spark = s->spark.get()] { return spark->stats(); };
    }
    SHUFFLE_ASSIGN_OR_RETURN(s->metrics,
                             ops::MetricsHttpServer::Start(options.metrics_listen, [sources] {
                               return ops::RenderServerMetrics(sources);
                             }));
    SHUFFLE_LOG(INFO) << "serving metrics" << Kv("port", s->metrics->port());
  }
  if (options.app_ttl_minutes > 0) {
    s->reaper = std::make_unique<IdleReaper>(
        s->engine.get(), absl::Minutes(static_cast<int64_t>(options.app_ttl_minutes)));
  }
  if (!options.ready_file.empty()) {
    const uint16_t metrics_port = s->metrics != nullptr ? s->metrics->port() : 0;
    const uint16_t spark_port = s->spark != nullptr ? s->spark->port() : 0;
    SHUFFLE_RETURN_IF_ERROR(WriteReadyFile(
        options.ready_file,
        ReadyLine(options, s->data->tcp_port(), s->control->port(), metrics_port, spark_port)));
    SHUFFLE_LOG(INFO) << "wrote ready file" << Kv("path", options.ready_file);
  }
  return absl::OkStatus();
}

void StopServers(const ServerOptions& options, Servers* s) {
  const absl::Duration timeout = absl::Seconds(static_cast<int64_t>(options.drain_timeout_seconds));
  const absl::Time deadline = absl::Now() + timeout;
  // The Drain RPC's procedure: no new writes, commits in flight finished, data synced.
  absl::StatusOr<storage::DrainReport> engine_drained = s->drainer->Drain(deadline);
  if (!engine_drained.ok()) {
    SHUFFLE_LOG(WARNING) << "storage did not drain in time; stopping anyway (acknowledged "
                            "commits are durable)"
                         << Kv("error", engine_drained.status().ToString());
  }
  // Then the data plane's own requests in flight (fetches) and unwritten responses.
  SHUFFLE_LOG(INFO) << "draining data plane"
                    << Kv("timeout_s", absl::ToDoubleSeconds(deadline - absl::Now()));
  absl::Status drained = s->data->Drain(std::chrono::steady_clock::now() +
                                        absl::ToChronoNanoseconds(deadline - absl::Now()));
  if (!drained.ok()) {
    SHUFFLE_LOG(WARNING) << "data plane did not drain; closing its connections anyway"
                         << Kv("error", drained.ToString());
  }
  s->data->Stop();  // logs "data plane stopped"
  if (s->spark != nullptr) {
    s->spark->Stop();  // Spark clients' fetches in flight are cut; their readers retry
  }

  s->control->Shutdown(std::chrono::system_clock::now() + kControlShutdownTimeout);
  s->data.reset();
  s->control.reset();
  s->service.reset();
  s->drainer.reset();

  SHUFFLE_LOG(INFO) << "closing storage engine";
  s->reaper.reset();
  s->metrics.reset();
  s->spark.reset();  // before the engine: its registry lives in the engine's index
  s->engine.reset();
  if (!options.ready_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options.ready_file, ignored);
  }
}

int Run(const ServerOptions& options, const sigset_t& stop_signals) {
  SHUFFLE_LOG(INFO) << "shuffle-server starting" << Kv("version", control::ServerVersion())
                    << Kv("node", options.node_name) << Kv("listen", options.listen)
                    << Kv("socket", options.socket_path)
                    << Kv("control_listen", options.control_listen)
                    << Kv("config", options.config_file);
  RaiseOpenFileLimit();
  Servers servers;
  absl::Status started = StartServers(options, &servers);
  if (!started.ok()) {
    SHUFFLE_LOG(ERROR) << "shuffle-server failed to start" << Kv("error", started.ToString());
    std::fprintf(stderr, "shuffle-server: %s\n", started.ToString().c_str());
    return 1;
  }
  SHUFFLE_LOG(INFO) << "shuffle-server serving";
  const int signal = WaitForStopSignal(stop_signals);
  SHUFFLE_LOG(INFO) << "stopping" << Kv("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  StopServers(options, &servers);
  SHUFFLE_LOG(INFO) << "shuffle-server stopped";
  return 0;
}

int Main(int argc, char** argv) {
  const sigset_t stop_signals = BlockStopSignals();
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  absl::StatusOr<ServerOptions> options = ParseServerOptions(args, ProcessEnv, Hostname());
  if (!options.ok()) {
    std::fprintf(stderr, "shuffle-server: %s\nRun 'shuffle-server --help' for the flags.\n",
                 std::string(options.status().message()).c_str());
    return 2;
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
