// The results of one shuffle-bench run: machine, baselines (measured in the run, or reference
// figures from DESIGN.md), service figures as ratios to their baseline against DESIGN.md's
// section 7 targets, concurrency sweeps, and errors. A run is several rounds of the whole plan,
// baselines and service interleaved; MergeRounds reports each figure as the median of its
// rounds' ratios, with min, max and how many rounds shared the CPUs with other processes (BUSY).
// Turned into JSON and a text table here; the chart is chart.h's. Not thread-safe: scenarios add
// to it one after another.
#ifndef SHUFFLE_BENCH_HARNESS_REPORT_H_
#define SHUFFLE_BENCH_HARNESS_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness/cpu_meter.h"
#include "bench/harness/machine_info.h"
#include "nlohmann/json.hpp"

namespace shuffle::bench {

// One round's measurement of a baseline or figure.
struct RoundValue {
  double value = 0;
  double ratio = 0;   // figures only
  bool busy = false;  // other processes took more than kBusyMachineShare of the CPUs meanwhile
};

struct Baseline {
  std::string name;
  std::string description;
  double value = 0;
  std::string unit;
  std::string kind;  // "measured" (this run), "reference" (a DESIGN.md figure) or "derived"
  nlohmann::json details;
  bool busy = false;                    // set by the run after the scenario that measured it
  std::vector<RoundValue> rounds = {};  // after MergeRounds: every round's value, in round order
};

enum class Goal {
  kRatioAtLeast,  // ratio >= threshold
  kRatioAtMost,   // ratio <= threshold
  kValueAtMost,   // value <= threshold (in the figure's unit)
};

struct Target {
  Goal goal = Goal::kRatioAtLeast;
  double threshold = 0;
  std::string design;  // DESIGN.md section 7's wording
};

struct Figure {
  std::string name;
  std::string description;
  double value = 0;
  std::string unit;
  std::string baseline;  // a Baseline's name
  double baseline_value = 0;
  double ratio = 0;  // value / baseline_value
  Target target;
  bool met = false;
  nlohmann::json details;               // of the median round
  bool busy = false;                    // set by the run after the scenario that measured it
  std::vector<RoundValue> rounds = {};  // after MergeRounds: every round's value and ratio
};

struct SweepPoint {
  uint32_t concurrency = 0;
  double value = 0;
  double ratio = 0;  // to the sweep's baseline
};

struct Sweep {
  std::string name;  // "push_ingest", "fetch"
  std::string description;
  std::string unit;
  std::string baseline;
  std::vector<SweepPoint> points;
};

// One scenario's run: its wall time and how much CPU the rest of the machine took meanwhile.
struct ScenarioRun {
  std::string name;
  bool ok = false;
  double waited_seconds = 0;  // for a quiet machine before it started
  double seconds = 0;
  double own_cpu_seconds = 0;
  double other_cpu_seconds = 0;
  double other_share = 0;  // of the machine's CPU capacity over the scenario
  uint32_t round = 0;
};

// A scenario during which other processes used more than this share of the CPUs is flagged.
inline constexpr double kBusyMachineShare = 0.10;

struct Report {
  MachineInfo machine;
  std::string command;
  bool quick = false;
  std::vector<Baseline> baselines;
  std::vector<Figure> figures;
  std::vector<Sweep> sweeps;
  std::vector<ScenarioRun> scenarios;
  std::vector<std::string> notes;   // e.g. "page cache not dropped: not root"
  std::vector<std::string> errors;  // scenarios that failed
  double total_seconds = 0;

  // The baseline named `name`, or null.
  const Baseline* FindBaseline(const std::string& name) const;
  // Adds a figure whose ratio is taken against `baseline` (which must have been added first;
  // otherwise an error is recorded and the figure is dropped).
  void AddFigure(const std::string& name, const std::string& description, double value,
                 const std::string& unit, const std::string& baseline, const Target& target,
                 nlohmann::json details = nlohmann::json::object());
};

// One report out of the rounds of a run (at least one): each baseline's value and each figure
// is the round whose value (value goals) or ratio (ratio goals) is the median, its details
// that round's, with every round's value, ratio and BUSY flag beside it; sweep points are the
// median per point; scenarios, notes and errors of all rounds.
Report MergeRounds(std::vector<Report> rounds);

// Adds `prefix`_cpu_s_per_gib, `prefix`_minflt_per_gib and `prefix`_majflt_per_gib to
// `details`: what moving `bytes` cost a process between two samples of its use.
void AddCostPerGiB(const std::string& prefix, const ResourceUse& before, const ResourceUse& after,
                   uint64_t bytes, nlohmann::json* details);

// The figure names a complete run produces, for the smoke test and the chart's order.
const std::vector<std::string>& AllFigureNames();

nlohmann::json ToJson(const Report& report);
std::string FormatTable(const Report& report);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_REPORT_H_
