// shuffle-driver: the reference driver (see DriverUsage()): runs a job on the local cluster or on
// Kubernetes. Exit codes: 0 when the job succeeded and its output validated, 1 otherwise, 2 on a
// usage error.
#include <fcntl.h>
#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "driver/scheduler/clusters.h"
#include "driver/scheduler/driver_options.h"
#include "driver/scheduler/job_runner.h"
#include "shuffle/core/logging.h"

namespace shuffle::driver {
namespace {

namespace fs = std::filesystem;

// Runs the job on a started cluster; the process exit code.
int RunJob(const DriverOptions& options, Cluster& cluster, const std::string& app_id) {
  std::cout << cluster.description;
  JobOptions job;
  job.job = MakeJobSpec(options);
  job.app_id = app_id;
  job.executors = options.executors;
  job.slots = options.slots;
  job.operator_secret = cluster.operator_secret;
  job.listen = cluster.listen;
  job.advertise_host = cluster.advertise_host;
  job.evictions_during_map = options.evict_during_map;
  job.evictions_during_reduce = options.evict_during_reduce;
  job.chaos_seed = options.seed;
  job.faults = *PlanFaults(options.chaos, options.seed);  // validated by the parser
  job.fault_target = cluster.faults.get();
  job.show_progress = options.progress;
  job.timeout = std::chrono::seconds(options.timeout_seconds);
  JobRunner runner(cluster.backend.get(), job);
  absl::StatusOr<JobReport> report = runner.Run();
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
    std::cerr << "shuffle-driver: " << parsed.status().message() << "\n";
    return 2;
  }
  DriverOptions options = *std::move(parsed);
  if (options.help) {
    std::cout << DriverUsage();
    return 0;
  }
  absl::StatusOr<core::LogLevel> level = core::ParseLogLevel(options.log_level);
  if (!level.ok()) {
    std::cerr << "shuffle-driver: --log-level: " << level.status().message() << "\n";
    return 2;
  }
  const bool temporary = options.work_dir.empty();
  if (temporary) {
    std::string pattern = (fs::temp_directory_path() / "shuffle-job-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "shuffle-driver: cannot create a work directory under "
                << fs::temp_directory_path() << "; pass --work-dir\n";
      return 1;
    }
    options.work_dir = pattern;
  }
  fs::create_directories(options.work_dir);
  const std::string log_path = options.work_dir + "/driver.log";
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd >= 0) {
    core::SetLogFd(log_fd);
  }
  core::SetLogLevel(*level);

  const std::string app_id = NewAppId();
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
}  // namespace shuffle::driver

int main(int argc, char** argv) { return shuffle::driver::Main(argc, argv); }
