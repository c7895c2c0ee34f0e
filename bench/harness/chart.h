// The PNG chart of a run, drawn by gnuplot: each figure's ratio beside its target (bars, log
// scale), and the concurrency sweeps as lines. Functions; they run gnuplot as a child process.
#ifndef SHUFFLE_BENCH_HARNESS_CHART_H_
#define SHUFFLE_BENCH_HARNESS_CHART_H_

#include <string>

#include "absl/status/status.h"
#include "bench/harness/report.h"

namespace shuffle::bench {

// FAILED_PRECONDITION naming the Debian package when gnuplot is not on PATH. Called before a run,
// so a long run never ends without its chart.
absl::Status CheckGnuplot();

// Writes `out_dir`/shuffle-bench.png, with the data and script gnuplot reads beside it
// (shuffle-bench.gp, shuffle-bench-*.dat).
absl::Status WriteChart(const Report& report, const std::string& out_dir);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_CHART_H_
