#include "shuffle/core/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include <sys/prctl.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::core {

std::string ExitInfo::Describe() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return absl::StrCat("killed by SIG", name != nullptr ? name : std::to_string(signal));
  }
  return absl::StrCat("exit code ", exit_code);
}

std::string LogTail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string all = buffer.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

namespace {

// The parent's environment with `env`'s variables replacing ones of the same name.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& kv : env) {
      replaced = replaced || kv.first == name;
    }
    if (!replaced) {
      out.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : env) {
    out.push_back(absl::StrCat(name, "=", value));
  }
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// The descriptors a child starts with, opened before fork; closed by the destructor.
struct ChildFds {
  int out = -1;
  int err = -1;
  int netns = -1;
  ChildFds() = default;
  ChildFds(const ChildFds&) = delete;
  ChildFds& operator=(const ChildFds&) = delete;
  ~ChildFds() {
    for (int fd : {out, err, netns}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }
};

absl::Status OpenFile(const std::string& path, int flags, const char* what, int* fd) {
  *fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (*fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", what, " ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status OpenChildFds(const ProcessSpec& spec, ChildFds* fds) {
  if (!spec.log_path.empty()) {
    SHUFFLE_RETURN_IF_ERROR(
        OpenFile(spec.log_path, O_WRONLY | O_CREAT | O_APPEND, "log file", &fds->out));
  }
  if (!spec.stdout_path.empty()) {
    SHUFFLE_RETURN_IF_ERROR(
        OpenFile(spec.stdout_path, O_WRONLY | O_CREAT | O_TRUNC, "output file", &fds->out));
  }
  if (!spec.stderr_path.empty()) {
    SHUFFLE_RETURN_IF_ERROR(
        OpenFile(spec.stderr_path, O_WRONLY | O_CREAT | O_TRUNC, "output file", &fds->err));
  }
  if (!spec.netns.empty()) {
    SHUFFLE_RETURN_IF_ERROR(OpenFile(spec.netns, O_RDONLY, "network namespace", &fds->netns));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Process>> Process::Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) {
    return absl::InvalidArgumentError("no program to start");
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv = Pointers(args);
  std::vector<std::string> env_strings = ChildEnvironment(spec.env);
  std::vector<char*> envp = Pointers(env_strings);
  ChildFds fds;
  SHUFFLE_RETURN_IF_ERROR(OpenChildFds(spec, &fds));
  const int err_fd = fds.err >= 0 ? fds.err : fds.out;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork for ", spec.argv[0], ": ", strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(126);  // the parent died before prctl took effect
    }
    if (fds.out >= 0) {
      dup2(fds.out, STDOUT_FILENO);
    }
    if (err_fd >= 0) {
      dup2(err_fd, STDERR_FILENO);
    }
    if (fds.netns >= 0 && setns(fds.netns, CLONE_NEWNET) != 0) {
      _exit(125);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return std::unique_ptr<Process>(new Process(pid));
}

Process::~Process() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

std::optional<ExitInfo> Process::Poll() const {
  if (exit_.has_value()) {
    return exit_;
  }
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    ExitInfo info;
    if (WIFSIGNALED(status)) {
      info.signal = WTERMSIG(status);
    } else {
      info.exit_code = WEXITSTATUS(status);
    }
    exit_ = info;
  } else if (r < 0 && errno == ECHILD) {
    exit_ = ExitInfo{.exit_code = -1};  // reaped elsewhere: it is gone all the same
  }
  return exit_;
}

void Process::Signal(int signal) {
  if (!Poll().has_value()) {
    kill(pid_, signal);
  }
}

std::optional<ExitInfo> Process::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (std::optional<ExitInfo> info = Poll()) {
      return info;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ExitInfo Process::Stop(std::chrono::milliseconds grace) {
  Signal(SIGTERM);
  if (std::optional<ExitInfo> info = Wait(grace)) {
    return *info;
  }
  Signal(SIGKILL);
  std::optional<ExitInfo> info = Wait(std::chrono::seconds(30));
  return info.value_or(ExitInfo{.signal = SIGKILL});
}

}  // namespace shuffle::core
