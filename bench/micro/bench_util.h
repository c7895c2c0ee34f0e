// What the micro-benchmark binaries share: a failure that makes the process exit non-zero and the
// main loop (temporary directories are the test support's TempDir).
//
// Google Benchmark 1.7 exits 0 after State::SkipWithError, so a benchmark that hits a real error
// would pass its smoke test; Fail() records it and RunBenchmarks() turns it into exit status 1.
// Fail() may be called from any thread.
#ifndef BENCH_MICRO_BENCH_UTIL_H_
#define BENCH_MICRO_BENCH_UTIL_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "tests/support/temp_dir.h"

namespace shuffle::bench {

// Stops `state` with the error and makes RunBenchmarks() return 1. The caller returns from the
// benchmark function right after (no more iterations may run).
void Fail(benchmark::State& state, const absl::Status& status);

// Parses the Google Benchmark flags in argv and runs the selected benchmarks. Returns the exit
// status: 1 when a benchmark failed, no benchmark matched the filter or an argument is unknown.
int RunBenchmarks(int argc, char** argv);

// Temporary directories: the test support's (tests/support/temp_dir.h).
using testsupport::TempDir;

}  // namespace shuffle::bench

#endif  // BENCH_MICRO_BENCH_UTIL_H_
