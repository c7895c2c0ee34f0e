// shuffle-driver: the reference driver (see DriverUsage()): runs a job on the local cluster or on
// Kubernetes. Exit codes: 0 when the job succeeded and its output validated, 1 otherwise, 2 on a
// usage error.
#include <fcntl.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "driver/chaos/chaos.h"
#include "driver/cli/clusters.h"
#include "driver/cli/driver_options.h"
#include "driver/runner/job_runner.h"
#include "shuffle/core/files.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/logging.h"

namespace shuffle::cli {
namespace {

namespace fs = std::filesystem;

// Runs the job on a started cluster; the process exit code.
int RunJob(const DriverOptions& options, Cluster& cluster, const std::string& app_id) {
  std::cout << cluster.description;
  runner::JobOptions job;
  job.job = MakeJobSpec(options);
  job.app_id = app_id;
  job.executors = options.executors;
  job.slots = options.slots;
  job.scheduler.replicas = options.replicas;
  job.adopt_lost_nodes = options.adopt_lost_nodes;
  job.operator_secret = cluster.operator_secret;
  job.identity_token_file = cluster.identity_token_file;
  job.tls_ca_file =
      options.tls_ca_file.empty() ? "" : std::filesystem::absolute(options.tls_ca_file).string();
  job.tls_server_name = options.tls_server_name;
  job.listen = cluster.listen;
  job.advertise_host = cluster.advertise_host;
  job.show_progress = options.progress;
  job.timeout = std::chrono::seconds(options.timeout_seconds);
  runner::JobRunner runner(cluster.backend.get(), job);
  const chaos::ChaosOptions faults{
      .faults = *chaos::PlanFaults(options.chaos, options.seed),  // validated by the parser
      .evictions_during_map = options.evict_during_map,
      .evictions_during_reduce = options.evict_during_reduce,
      .seed = options.seed,
      .target = cluster.faults.get()};
  absl::StatusOr<runner::JobReport> report = chaos::RunWithChaos(runner, faults);
  if (!report.ok()) {
    std::cerr << "shuffle-driver: " << report.status() << "\n";
    return 1;
  }
  std::cout << "\n" << report->Render();
  return report->ok() ? 0 : 1;
}

int Main(int argc, char** argv) {
  absl::StatusOr<DriverOptions> parsed =
      ParseDriverOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    return core::ReportUsageError("shuffle-driver", parsed.status());
  }
  DriverOptions options = *std::move(parsed);
  if (options.help) {
    std::cout << DriverUsage();
    return 0;
  }
  const core::LogLevel level =
      core::ParseLogLevel(options.log_level).value_or(core::LogLevel::kInfo);  // validated
  const bool temporary = options.work_dir.empty();
  if (temporary) {
    absl::StatusOr<std::string> made = core::MakeTempDir("shuffle-job-");
    if (!made.ok()) {
      std::cerr << "shuffle-driver: cannot create a work directory: " << made.status().message()
                << "; pass --work-dir\n";
      return 1;
    }
    options.work_dir = *std::move(made);
  }
  fs::create_directories(options.work_dir);
  const std::string log_path = options.work_dir + "/driver.log";
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd >= 0) {
    core::SetLogFd(log_fd);
  }
  core::SetLogLevel(level);

  const std::string app_id = runner::NewAppId();
  int code = 1;
  {
    absl::StatusOr<Cluster> cluster = options.backend == "kubernetes"
                                          ? ConnectKubernetes(options, app_id)
                                          : StartLocalCluster(options);
    if (!cluster.ok()) {
      std::cerr << "shuffle-driver: cannot start the " << options.backend
                << " cluster: " << cluster.status() << "\n";
    } else {
      code = RunJob(options, *cluster, app_id);
      cluster->faults.reset();   // heals what it broke, through the backend
      cluster->backend.reset();  // before the client it uses
    }
  }
  if (temporary && !options.keep_work_dir) {
    std::error_code ec;
    fs::remove_all(options.work_dir, ec);
  } else {
    std::cout << "Logs: " << log_path << ", " << options.work_dir << "/node-*/server.log, "
              << options.work_dir << "/executors/*.log\n";
  }
  return code;
}

}  // namespace
}  // namespace shuffle::cli

int main(int argc, char** argv) { return shuffle::cli::Main(argc, argv); }
