#include "driver/podmanager/process.h"

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

namespace shuffle::podmanager {

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

absl::StatusOr<std::unique_ptr<Process>> Process::Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) {
    return absl::InvalidArgumentError("no program to start");
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  // The parent's environment with the spec's variables replacing ones of the same name.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& kv : spec.env) {
      replaced = replaced || kv.first == name;
    }
    if (!replaced) {
      env_strings.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : spec.env) {
    env_strings.push_back(absl::StrCat(name, "=", value));
  }
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  int log_fd = -1;
  if (!spec.log_path.empty()) {
    log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open log file ", spec.log_path, ": ", strerror(errno)));
    }
  }
  int netns_fd = -1;
  if (!spec.netns.empty()) {
    netns_fd = open(spec.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      const int err = errno;
      if (log_fd >= 0) {
        close(log_fd);
      }
      return absl::InternalError(
          absl::StrCat("cannot open network namespace ", spec.netns, ": ", strerror(err)));
    }
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd : {log_fd, netns_fd}) {
      if (fd >= 0) {
        close(fd);
      }
    }
    return absl::InternalError(absl::StrCat("fork for ", spec.argv[0], ": ", strerror(err)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(126);  // the parent died before prctl took effect
    }
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) {
      _exit(125);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  for (int fd : {log_fd, netns_fd}) {
    if (fd >= 0) {
      close(fd);
    }
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

}  // namespace shuffle::podmanager
