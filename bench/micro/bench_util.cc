#include "bench/micro/bench_util.h"

#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/strings.h"

namespace shuffle::bench {
namespace {

std::atomic<bool> failed{false};

}  // namespace

void Fail(benchmark::State& state, const absl::Status& status) {
  failed.store(true);
  state.SkipWithError(status.ToString().c_str());  // copied by the library
}

int RunBenchmarks(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  const size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (ran == 0) {
    return 1;  // the library has said that nothing matched
  }
  if (failed.load()) {
    std::fprintf(stderr, "benchmark: a benchmark reported an error (ERROR OCCURRED above)\n");
    return 1;
  }
  return 0;
}

absl::StatusOr<TempDir> TempDir::Create(std::string_view prefix) {
  const char* tmpdir = getenv("TMPDIR");
  const std::string root = tmpdir != nullptr && tmpdir[0] != '\0' ? tmpdir : "/tmp";
  std::string path = absl::StrCat(root, "/", core::ToAbsl(prefix), ".XXXXXX");
  if (mkdtemp(path.data()) == nullptr) {
    const absl::Status status = core::ErrnoToStatus(errno, "mkdtemp", path);
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), "; set TMPDIR to a writable directory"));
  }
  return TempDir(std::move(path));
}

TempDir::~TempDir() { Remove(); }

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void TempDir::Remove() {
  if (path_.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) {
    std::fprintf(stderr, "benchmark: could not remove %s: %s\n", path_.c_str(),
                 ec.message().c_str());
  }
  path_.clear();
}

}  // namespace shuffle::bench
