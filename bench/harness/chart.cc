#include "bench/harness/chart.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "shuffle/core/status_macros.h"
#include "tests/support/program.h"

namespace shuffle::bench {
namespace {

constexpr auto kGnuplotTimeout = std::chrono::seconds(60);

// One row per figure: label, measured, target, colour. Ratio goals compare ratios; a value goal
// (restart seconds) compares the value with its limit, labelled with the unit.
std::string FigureRows(const Report& report) {
  std::string rows;
  for (const Figure& f : report.figures) {
    const bool value_goal = f.target.goal == Goal::kValueAtMost;
    const char* direction = f.target.goal == Goal::kRatioAtLeast ? ">=" : "<=";
    const std::string label = absl::StrCat(f.name, value_goal ? " (s)" : "", " ", direction);
    absl::StrAppend(&rows,
                    absl::StrFormat("\"%s\" %g %g %d\n", label, value_goal ? f.value : f.ratio,
                                    f.target.threshold, f.met ? 0x2e8b57 : 0xd62728));
  }
  return rows;
}

// concurrency, then one column per sweep ("NaN" where a sweep lacks the point).
std::string SweepRows(const Report& report, std::vector<std::string>* titles) {
  std::vector<uint32_t> xs;
  for (const Sweep& s : report.sweeps) {
    titles->push_back(s.name);
    for (const SweepPoint& p : s.points) {
      if (std::find(xs.begin(), xs.end(), p.concurrency) == xs.end()) {
        xs.push_back(p.concurrency);
      }
    }
  }
  std::sort(xs.begin(), xs.end());
  std::string rows;
  for (uint32_t x : xs) {
    absl::StrAppend(&rows, x);
    for (const Sweep& s : report.sweeps) {
      std::string cell = "NaN";
      for (const SweepPoint& p : s.points) {
        if (p.concurrency == x) {
          cell = absl::StrFormat("%g", p.value);
        }
      }
      absl::StrAppend(&rows, " ", cell);
    }
    absl::StrAppend(&rows, "\n");
  }
  return rows;
}

std::string Script(const Report& report, const std::string& dir,
                   const std::vector<std::string>& sweep_titles) {
  std::string s = absl::StrCat(
      "set terminal pngcairo noenhanced size 1600,700 font 'sans,10'\n", "set output '", dir,
      "/shuffle-bench.png'\n",
      "set multiplot layout 1,2 title 'shuffle-bench: ", report.machine.cores, " cores, ",
      report.machine.file_system, ", kernel ", report.machine.kernel,
      report.quick ? " (--quick)" : "", "'\n",
      // Left: figures.
      "set title 'service figure vs target (green met, red missed; grey = target)'\n",
      "set logscale y\nset yrange [0.01:*]\nset grid ytics\nset xtics rotate by -35 left\n",
      "set style fill solid 0.9 border -1\nset boxwidth 0.38\nset key off\n",
      "set xrange [-0.7:", std::max<size_t>(report.figures.size(), 1) - 0.3, "]\n", "plot '", dir,
      "/shuffle-bench-figures.dat' using ($0-0.2):2:4:xtic(1) with boxes lc rgb ",
      "variable, '' using ($0+0.2):3 with boxes lc rgb '#aaaaaa', '' using ($0-0.2):2:",
      "(sprintf('%.2g', $2)) with labels offset 0,0.7\n",
      // Right: sweeps.
      "unset logscale\nset logscale x 2\nset xtics norotate\nset key bottom right\n",
      "set autoscale y\nset yrange [0:*]\nset xrange [*:*]\n",
      "set title 'concurrency sweep (MiB/s), dashed: raw disk baselines'\n",
      "set xlabel 'concurrent writers / readers'\nset ylabel 'MiB/s'\n");
  std::string plot = "plot ";
  for (size_t i = 0; i < sweep_titles.size(); ++i) {
    absl::StrAppend(&plot, i == 0 ? "" : ", ", "'", dir,
                    "/shuffle-bench-sweep.dat' using 1:", i + 2, " with linespoints lw 2 title '",
                    sweep_titles[i], "'");
  }
  for (const char* name : {"disk_write", "disk_read"}) {
    if (const Baseline* b = report.FindBaseline(name)) {
      absl::StrAppend(&plot, plot.size() > 5 ? ", " : "", b->value, " dt 2 lw 1.5 title 'raw ",
                      name, "'");
    }
  }
  if (plot.size() > 5) {
    absl::StrAppend(&s, plot, "\n");
  }
  absl::StrAppend(&s, "unset multiplot\n");
  return s;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckGnuplot() {
  if (!testsupport::FindInPath("gnuplot").ok()) {
    return absl::FailedPreconditionError(
        "gnuplot is not installed (needed for shuffle-bench.png): install the Debian package "
        "gnuplot-nox (tools/setup does)");
  }
  return absl::OkStatus();
}

absl::Status WriteChart(const Report& report, const std::string& out_dir) {
  SHUFFLE_RETURN_IF_ERROR(CheckGnuplot());
  SHUFFLE_ASSIGN_OR_RETURN(std::string gnuplot, testsupport::FindInPath("gnuplot"));
  const std::string dir = std::filesystem::absolute(out_dir).string();
  std::vector<std::string> titles;
  SHUFFLE_RETURN_IF_ERROR(WriteFile(dir + "/shuffle-bench-figures.dat", FigureRows(report)));
  SHUFFLE_RETURN_IF_ERROR(WriteFile(dir + "/shuffle-bench-sweep.dat", SweepRows(report, &titles)));
  const std::string script = dir + "/shuffle-bench.gp";
  SHUFFLE_RETURN_IF_ERROR(WriteFile(script, Script(report, dir, titles)));
  std::error_code ec;
  std::filesystem::remove(dir + "/shuffle-bench.png", ec);
  SHUFFLE_ASSIGN_OR_RETURN(
      testsupport::ProgramResult run,
      testsupport::RunProgram({gnuplot, script}, dir, kGnuplotTimeout, "gnuplot"));
  if (run.exit_code != 0 || !std::filesystem::exists(dir + "/shuffle-bench.png")) {
    return absl::InternalError(
        absl::StrCat("gnuplot ", script, " failed (exit ", run.exit_code, "): ", run.out, run.err));
  }
  return absl::OkStatus();
}

}  // namespace shuffle::bench
