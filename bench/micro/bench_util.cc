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

}  // namespace shuffle::bench
