#include "tests/support/program.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/files.h"
#include "shuffle/core/status_macros.h"
#include "tests/support/tls_run.h"

namespace shuffle::testsupport {

absl::StatusOr<std::unique_ptr<core::Process>> StartProgram(const std::vector<std::string>& argv,
                                                            const std::string& stdout_path,
                                                            const std::string& stderr_path) {
  core::ProcessSpec spec;
  spec.argv = argv;
  spec.stdout_path = stdout_path;
  spec.stderr_path = stderr_path;
  // The TLS run (tls_run.h) is the test process's own switch: a program it starts gets TLS from
  // its flags, and one that starts servers of its own (shuffle-bench) starts them as it would
  // anywhere else.
  spec.env.emplace_back(kTlsRunVariable, "");
  return core::Process::Spawn(spec);
}

absl::StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                         const std::string& dir, std::chrono::milliseconds timeout,
                                         const std::string& name) {
  if (argv.empty()) {
    return absl::InvalidArgumentError("no program to run");
  }
  const std::string base = absl::StrCat(
      dir, "/", name.empty() ? std::filesystem::path(argv[0]).filename().string() : name);
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Process> process,
                           StartProgram(argv, base + ".out", base + ".err"));
  std::optional<core::ExitInfo> exit = process->Wait(timeout);
  if (!exit.has_value()) {
    process->Stop(std::chrono::seconds(2));
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " did not finish within ", timeout.count(), " ms and was killed"));
  }
  ProgramResult result;
  result.exit_code = exit->signal != 0 ? -1 : exit->exit_code;
  result.out = core::ReadFileToString(base + ".out").value_or("");
  result.err = core::ReadFileToString(base + ".err").value_or("");
  return result;
}

absl::StatusOr<std::string> FindInPath(const std::string& program) {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read-only use
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat(program, " is not on PATH"));
}

absl::StatusOr<core::ReadyFile> AwaitServerReady(core::Process& server, const std::string& path,
                                                 std::chrono::milliseconds timeout) {
  absl::StatusOr<core::ReadyFile> ready =
      core::AwaitReadyFile(path, std::chrono::steady_clock::now() + timeout, [&server] {
        std::optional<core::ExitInfo> exit = server.Poll();
        return exit.has_value()
                   ? absl::InternalError(absl::StrCat("shuffle-server exited during start (",
                                                      exit->Describe(), ")"))
                   : absl::OkStatus();
      });
  if (absl::IsDeadlineExceeded(ready.status())) {
    return absl::DeadlineExceededError(absl::StrCat("shuffle-server did not become ready within ",
                                                    timeout.count() / 1000, " s (", path, ")"));
  }
  return ready;
}

}  // namespace shuffle::testsupport
