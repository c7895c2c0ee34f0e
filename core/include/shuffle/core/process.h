// Process: a child process started with fork and exec, its output appended to a log file (or to
// one file each for stdout and stderr), killed with SIGKILL if the parent dies (PR_SET_PDEATHSIG),
// and SIGKILLed and reaped when the object is destroyed while it still runs. Exit is observed by
// polling (Poll) so one monitor thread can watch many children. The one fork/exec of the project:
// the driver's pod manager, the test node agent, the tests and the benchmarks all start programs
// through it. Not thread-safe: one owner.
#ifndef SHUFFLE_CORE_PROCESS_H_
#define SHUFFLE_CORE_PROCESS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace shuffle::core {

struct ProcessSpec {
  std::vector<std::string> argv;                         // argv[0] is the binary's path
  std::vector<std::pair<std::string, std::string>> env;  // added to the parent's environment
  std::string log_path;  // stdout and stderr are appended here; empty: inherit
  // Instead of log_path: stdout and stderr each truncated and written to its own file.
  std::string stdout_path;
  std::string stderr_path;
  std::string netns;  // a network namespace file (/run/netns/NAME) to join; empty: ours
};

// How a process ended.
struct ExitInfo {
  int exit_code = 0;             // valid when signal == 0
  int signal = 0;                // the terminating signal, or 0
  std::string Describe() const;  // "exit code 3", "killed by SIGKILL"
};

// The last `bytes` of a log file (all of it when shorter; "" when it cannot be read), for errors
// that quote what a process said.
std::string LogTail(const std::string& path, size_t bytes);

class Process {
 public:
  // INTERNAL naming the binary when fork fails, or the namespace when it cannot be opened; a
  // binary that cannot be executed exits with 127, a namespace that cannot be joined with 125.
  static absl::StatusOr<std::unique_ptr<Process>> Spawn(const ProcessSpec& spec);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the process if it has ended; its ExitInfo once it has.
  std::optional<ExitInfo> Poll() const;
  bool running() const { return !Poll().has_value(); }
  // Sends `signal` if the process still runs.
  void Signal(int signal);
  // Waits until the process ends or `timeout` passes; the ExitInfo, or nullopt on timeout.
  std::optional<ExitInfo> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; always reaps.
  ExitInfo Stop(std::chrono::milliseconds grace);

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  mutable std::optional<ExitInfo> exit_;  // set once the process is reaped
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_PROCESS_H_
