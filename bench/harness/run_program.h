// Running a helper program to completion (gnuplot, shuffle-driver): started through the pod
// manager's Process (killed with this process, by PID), output captured in a log file, bounded by
// a timeout after which it is killed. Functions; safe from any thread.
#ifndef SHUFFLE_BENCH_HARNESS_RUN_PROGRAM_H_
#define SHUFFLE_BENCH_HARNESS_RUN_PROGRAM_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shuffle::bench {

// The absolute path of `program` found on $PATH, or NOT_FOUND.
absl::StatusOr<std::string> FindInPath(const std::string& program);

struct ProgramRun {
  int exit_code = 0;   // -1 when killed by a signal
  std::string output;  // stdout and stderr (the end of it when long)
  double seconds = 0;
};

// Runs argv (argv[0] an absolute path) with its output in `log_path`; DEADLINE_EXCEEDED after
// `timeout` (the program is killed).
absl::StatusOr<ProgramRun> RunProgram(const std::vector<std::string>& argv,
                                      const std::string& log_path,
                                      std::chrono::milliseconds timeout);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_RUN_PROGRAM_H_
