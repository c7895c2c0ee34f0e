// Running programs from tests and benchmarks (shufflectl, gnuplot, shuffle-driver...), on
// core::Process (fork/exec, killed with the caller by PR_SET_PDEATHSIG, by PID when the object
// dies): one program to completion with its stdout and stderr captured, and waiting for a started
// shuffle-server's ready file. Functions; safe from any thread.
#ifndef SHUFFLE_TESTS_SUPPORT_PROGRAM_H_
#define SHUFFLE_TESTS_SUPPORT_PROGRAM_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle/core/process.h"
#include "shuffle/core/ready_file.h"

namespace shuffle::testsupport {

struct ProgramResult {
  int exit_code = -1;  // -1: ended by a signal
  std::string out;
  std::string err;
};

// Runs argv (argv[0] a path) with stdout and stderr in `dir`/<name>.out and .err (`name` ""
// means argv[0]'s file name), waiting at most `timeout`: DEADLINE_EXCEEDED, naming the files,
// after it (the program is killed).
absl::StatusOr<ProgramResult> RunProgram(
    const std::vector<std::string>& argv, const std::string& dir,
    std::chrono::milliseconds timeout = std::chrono::seconds(60), const std::string& name = "");

// The absolute path of `program` found on $PATH, or NOT_FOUND.
absl::StatusOr<std::string> FindInPath(const std::string& program);

// Starts argv with stdout and stderr in files (core::ProcessSpec's stdout_path and stderr_path).
absl::StatusOr<std::unique_ptr<core::Process>> StartProgram(const std::vector<std::string>& argv,
                                                            const std::string& stdout_path,
                                                            const std::string& stderr_path);

// Waits, at most `timeout`, for the ready file a started shuffle-server writes to `path`.
// INTERNAL "shuffle-server exited during start (exit code 1)" when `server` ends first.
absl::StatusOr<core::ReadyFile> AwaitServerReady(
    core::Process& server, const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_PROGRAM_H_
