// shuffle-driver: the reference driver on the embedded local cluster (see DriverUsage()).
// Exit codes: 0 when the job succeeded and its output validated, 1 otherwise, 2 on a usage error.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "driver/podmanager/local_backend.h"
#include "driver/scheduler/driver_options.h"
#include "driver/scheduler/job_runner.h"
#include "shuffle/core/logging.h"

namespace {

namespace fs = std::filesystem;
using shuffle::driver::DriverOptions;

// A program of this build: beside this one (installed layout) or in the build tree.
std::string FindBinary(const std::string& name, const std::string& component_dir) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const fs::path& candidate : {self / name, self / ".." / ".." / component_dir / name,
                                    self / ".." / component_dir / name}) {
    if (access(candidate.c_str(), X_OK) == 0) {
      return fs::weakly_canonical(candidate, ec).string();
    }
  }
  return (self / name).string();  // the error will name it
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<DriverOptions> parsed =
      shuffle::driver::ParseDriverOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::cerr << "shuffle-driver: " << parsed.status().message() << "\n";
    return 2;
  }
  DriverOptions options = *std::move(parsed);
  if (options.help) {
    std::cout << shuffle::driver::DriverUsage();
    return 0;
  }
  absl::StatusOr<shuffle::core::LogLevel> level = shuffle::core::ParseLogLevel(options.log_level);
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
    shuffle::core::SetLogFd(log_fd);
  }
  shuffle::core::SetLogLevel(*level);
  if (options.server_binary.empty()) {
    options.server_binary = FindBinary("shuffle-server", "shuffle-server");
  }
  if (options.executor_binary.empty()) {
    options.executor_binary = FindBinary("shuffle-executor", "executor");
  }

  int code = 1;
  {
    auto backend = shuffle::podmanager::LocalBackend::Start(
        {.root = options.work_dir,
         .nodes = options.nodes,
         .server_binary = options.server_binary,
         .executor_binary = options.executor_binary,
         .server_args = {"--memory-budget-mib=128", "--min-free-mib=64"}});
    if (!backend.ok()) {
      std::cerr << "shuffle-driver: cannot start the local cluster: " << backend.status() << "\n";
      return 1;
    }
    std::cout << "Local cluster: " << options.nodes << " nodes, work directory " << options.work_dir
              << "\n";
    for (const auto& node : (*backend)->Nodes()) {
      std::cout << "  " << node.name << ": shuffle-server data " << node.data_address
                << ", control " << node.control_address << "\n";
    }
    shuffle::driver::JobOptions job;
    job.job = shuffle::driver::MakeJobSpec(options);
    job.executors = options.executors;
    job.slots = options.slots;
    job.operator_secret = (*backend)->operator_secret();
    job.evictions_during_map = options.evict_during_map;
    job.evictions_during_reduce = options.evict_during_reduce;
    job.chaos_seed = options.seed;
    job.show_progress = options.progress;
    job.timeout = std::chrono::seconds(options.timeout_seconds);
    shuffle::driver::JobRunner runner(backend->get(), job);
    absl::StatusOr<shuffle::driver::JobReport> report = runner.Run();
    if (!report.ok()) {
      std::cerr << "shuffle-driver: " << report.status() << "\n";
    } else {
      std::cout << "\n" << report->Render();
      code = report->ok() ? 0 : 1;
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
