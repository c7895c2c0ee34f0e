#include "bench/harness/run_program.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/process.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr size_t kMaxOutput = 64u << 10;

std::string ReadTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return text.size() > kMaxOutput ? text.substr(text.size() - kMaxOutput) : text;
}

}  // namespace

absl::StatusOr<std::string> FindInPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat(program, " is not on PATH"));
}

absl::StatusOr<ProgramRun> RunProgram(const std::vector<std::string>& argv,
                                      const std::string& log_path,
                                      std::chrono::milliseconds timeout) {
  std::ofstream(log_path, std::ios::trunc).flush();
  const auto start = std::chrono::steady_clock::now();
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Process> process,
                           core::Process::Spawn(core::ProcessSpec{
                               .argv = argv, .env = {}, .log_path = log_path, .netns = ""}));
  std::optional<core::ExitInfo> exit = process->Wait(timeout);
  if (!exit.has_value()) {
    process->Stop(std::chrono::seconds(2));
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " did not finish within ", timeout.count() / 1000,
                     " s and was killed; its output is in ", log_path));
  }
  ProgramRun run;
  run.exit_code = exit->signal != 0 ? -1 : exit->exit_code;
  run.output = ReadTail(log_path);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (exit->signal != 0 || exit->exit_code == 127) {
    return absl::InternalError(absl::StrCat(
        argv[0], ": ", exit->Describe(), exit->exit_code == 127 ? " (could not be executed)" : "",
        "; output in ", log_path));
  }
  return run;
}

}  // namespace shuffle::bench
