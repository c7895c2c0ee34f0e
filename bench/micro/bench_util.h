// What the micro-benchmark binaries share: a failure that makes the process exit non-zero, the
// main loop, and temporary directories that are removed whatever happens to the benchmark.
//
// Google Benchmark 1.7 exits 0 after State::SkipWithError, so a benchmark that hits a real error
// would pass its smoke test; Fail() records it and RunBenchmarks() turns it into exit status 1.
// Fail() may be called from any thread; TempDir is not thread-safe.
#ifndef BENCH_MICRO_BENCH_UTIL_H_
#define BENCH_MICRO_BENCH_UTIL_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"

namespace shuffle::bench {

// Stops `state` with the error and makes RunBenchmarks() return 1. The caller returns from the
// benchmark function right after (no more iterations may run).
void Fail(benchmark::State& state, const absl::Status& status);

// Parses the Google Benchmark flags in argv and runs the selected benchmarks. Returns the exit
// status: 1 when a benchmark failed, no benchmark matched the filter or an argument is unknown.
int RunBenchmarks(int argc, char** argv);

// A fresh directory under $TMPDIR (default /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  // `prefix` names the directory ("<prefix>.XXXXXX") so a leftover one says what made it.
  static absl::StatusOr<TempDir> Create(std::string_view prefix);
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Remove();
  std::string path_;  // empty once moved from
};

}  // namespace shuffle::bench

#endif  // BENCH_MICRO_BENCH_UTIL_H_
