#include "bench/harness/run_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"

namespace shuffle::bench {
namespace {

int interrupt_pipe[2] = {-1, -1};

void OnInterrupt(int signal) {
  const char c = static_cast<char>(signal);
  (void)!write(interrupt_pipe[1], &c, 1);  // async-signal-safe; the thread does the rest
}

// Removes `path` (a few tries: a dying server may still create a file) and exits.
void CleanUpOnInterrupt(const std::string& path) {
  char signal = 0;
  if (read(interrupt_pipe[0], &signal, 1) != 1) {
    return;
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (!ec) {
      break;
    }
  }
  std::fprintf(stderr, "\nshuffle-bench: interrupted; removed %s\n", path.c_str());
  _exit(128 + signal);
}

void ArmInterruptCleanup(const std::string& path) {
  if (pipe2(interrupt_pipe, O_CLOEXEC) != 0) {
    return;  // no cleanup on interrupt; normal exits still remove the directory
  }
  std::thread(CleanUpOnInterrupt, path).detach();
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

absl::StatusOr<RunDir> RunDir::Create(const std::string& parent) {
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  absl::StatusOr<testsupport::TempDir> dir = testsupport::TempDir::Create("shuffle-bench-", parent);
  if (!dir.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create a temporary directory under ", parent, ": ",
                     dir.status().message(), "; check that it exists and is writable (--dir)"));
  }
  ArmInterruptCleanup(dir->path());
  return RunDir(*std::move(dir));
}

}  // namespace shuffle::bench
