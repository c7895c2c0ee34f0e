// shuffle-bench: the end-to-end harness. Measures the machine's own limits, then the service
// through real shuffle-server processes, and reports each service figure as a ratio to its
// same-run baseline (JSON, a table on stdout, a PNG chart). See Usage() and docs/performance.md.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/harness/chart.h"
#include "bench/harness/cpu_meter.h"
#include "bench/harness/machine_info.h"
#include "bench/harness/options.h"
#include "bench/harness/report.h"
#include "bench/harness/run_dir.h"
#include "bench/harness/scenarios.h"
#include "shuffle/core/flags.h"

namespace shuffle::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Scenario {
  const char* name;
  std::function<absl::Status(const ScenarioContext&, Report*)> run;
};

// The scenarios to run: the selected ones, plus the baselines they compare with.
std::vector<Scenario> Plan(const HarnessOptions& options) {
  const bool disk = options.Runs("disk") || options.Runs("ingest") || options.Runs("sweep");
  const bool net = options.Runs("net") || options.Runs("ingest");
  std::vector<Scenario> plan;
  if (disk) {
    plan.push_back({"disk", RunDiskBaselines});
  }
  if (net) {
    plan.push_back({"net", RunNetBaselines});
  }
  const std::vector<Scenario> service = {
      {"ingest", RunIngestScenario},    {"small", RunSmallBlockScenario},
      {"sweep", RunSweepScenario},      {"restart", RunRestartScenario},
      {"tls", RunTlsScenario},          {"evict", RunEvictScenario},
      {"replicas", RunReplicasScenario}};
  for (const Scenario& s : service) {
    if (options.Runs(s.name)) {
      plan.push_back(s);
    }
  }
  return plan;
}

absl::Status WriteJson(const Report& report, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  out << ToJson(report).dump(2) << "\n";
  out.flush();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

int Run(const HarnessOptions& options, Clock::time_point start) {
  if (absl::Status st = CheckGnuplot(); !st.ok()) {
    std::cerr << "shuffle-bench: " << st.message() << "\n";
    return 2;
  }
  if (access(options.server.c_str(), X_OK) != 0) {
    std::cerr << "shuffle-bench: shuffle-server not found at " << options.server
              << ": build it (ninja shuffle-server) or pass --server=PATH\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(options.out, ec);
  if (ec) {
    std::cerr << "shuffle-bench: cannot create --out directory " << options.out << ": "
              << ec.message() << "\n";
    return 2;
  }
  absl::StatusOr<RunDir> run_dir = RunDir::Create(options.dir);
  if (!run_dir.ok()) {
    std::cerr << "shuffle-bench: " << run_dir.status().message() << "\n";
    return 2;
  }
  const MachineInfo machine = CollectMachineInfo(run_dir->path());
  const ScenarioContext ctx{.options = &options, .run_dir = run_dir->path()};
  // Every round runs the whole plan, so each service figure has a baseline measured minutes, not
  // a whole run, before it; the figures are the medians over the rounds.
  std::vector<Report> rounds;
  for (uint32_t r = 1; r <= options.rounds; ++r) {
    Report& report = rounds.emplace_back();
    report.command = options.command_line;
    report.quick = options.quick;
    report.machine = machine;
    for (const Scenario& scenario : Plan(options)) {
      std::cerr << "shuffle-bench: "
                << (options.rounds > 1 ? absl::StrCat("round ", r, "/", options.rounds, " ") : "")
                << scenario.name << " ..." << std::flush;
      bool quiet = true;
      const double waited = options.quiet_wait_seconds > 0
                                ? WaitForQuietMachine(machine.cores, options.quiet_wait_seconds,
                                                      kBusyMachineShare, &quiet)
                                : 0;
      const size_t baselines_before = report.baselines.size();
      const size_t figures_before = report.figures.size();
      const CpuSample before = SampleCpu();
      const absl::Status st = scenario.run(ctx, &report);
      const CpuUse use = CpuBetween(before, SampleCpu(), machine.cores);
      const bool busy = use.other_share > kBusyMachineShare;
      for (size_t i = baselines_before; i < report.baselines.size(); ++i) {
        report.baselines[i].busy = busy;
      }
      for (size_t i = figures_before; i < report.figures.size(); ++i) {
        report.figures[i].busy = busy;
      }
      std::cerr << absl::StrFormat(
          " %.1f s%s%s%s\n", use.seconds, st.ok() ? "" : " FAILED", busy ? " BUSY" : "",
          waited > 0.6 ? absl::StrFormat(" (after waiting %.1f s for %s)", waited,
                                         quiet ? "a quiet machine"
                                               : "a quiet machine, "
                                                 "in vain")
                       : "");
      if (!st.ok()) {
        report.errors.push_back(absl::StrCat(scenario.name, ": ", st.ToString()));
      }
      report.scenarios.push_back(ScenarioRun{.name = scenario.name,
                                             .ok = st.ok(),
                                             .waited_seconds = waited,
                                             .seconds = use.seconds,
                                             .own_cpu_seconds = use.own_cpu,
                                             .other_cpu_seconds = use.other_cpu,
                                             .other_share = use.other_share,
                                             .round = r});
    }
  }
  Report report = MergeRounds(std::move(rounds));
  report.total_seconds = SecondsSince(start);
  const std::string json = options.out + "/shuffle-bench.json";
  const std::string png = options.out + "/shuffle-bench.png";
  int exit_code = report.errors.empty() ? 0 : 1;
  if (absl::Status st = WriteJson(report, json); !st.ok()) {
    std::cerr << "shuffle-bench: " << st.message() << "\n";
    exit_code = 1;
  }
  std::cout << FormatTable(report) << std::flush;
  if (absl::Status st = WriteChart(report, options.out); !st.ok()) {
    std::cerr << "shuffle-bench: chart: " << st.message() << "\n";
    exit_code = 1;
  }
  std::cout << "wrote " << json << " and " << png << "\n";
  return exit_code;
}

}  // namespace
}  // namespace shuffle::bench

int main(int argc, char** argv) {
  const auto start = shuffle::bench::Clock::now();
  signal(SIGPIPE, SIG_IGN);  // a server that dies must not take the harness with it
  absl::StatusOr<shuffle::bench::HarnessOptions> options = shuffle::bench::ParseOptions(argc, argv);
  if (!options.ok()) {
    return shuffle::core::ReportUsageError("shuffle-bench", options.status());
  }
  if (options->help) {
    std::cout << shuffle::bench::Usage();
    return 0;
  }
  return shuffle::bench::Run(*options, start);
}
