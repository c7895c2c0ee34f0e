#include "bench/harness/report.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shuffle::bench {
namespace {

const char* GoalName(Goal goal) {
  switch (goal) {
    case Goal::kRatioAtLeast:
      return "ratio_at_least";
    case Goal::kRatioAtMost:
      return "ratio_at_most";
    case Goal::kValueAtMost:
      return "value_at_most";
  }
  return "?";
}

std::string TargetText(const Target& target, const std::string& unit) {
  switch (target.goal) {
    case Goal::kRatioAtLeast:
      return absl::StrFormat(">= %gx", target.threshold);
    case Goal::kRatioAtMost:
      return absl::StrFormat("<= %gx", target.threshold);
    case Goal::kValueAtMost:
      return absl::StrFormat("<= %g %s", target.threshold, unit);
  }
  return "?";
}

bool Met(const Target& target, double value, double ratio) {
  switch (target.goal) {
    case Goal::kRatioAtLeast:
      return ratio >= target.threshold;
    case Goal::kRatioAtMost:
      return ratio <= target.threshold;
    case Goal::kValueAtMost:
      return value <= target.threshold;
  }
  return false;
}

// Three significant digits, without exponent for the sizes a benchmark sees.
std::string Number(double v) {
  if (v >= 1000) {
    return absl::StrFormat("%.0f", v);
  }
  if (v >= 100) {
    return absl::StrFormat("%.1f", v);
  }
  if (v >= 1) {
    return absl::StrFormat("%.2f", v);
  }
  return absl::StrFormat("%.3g", v);
}

}  // namespace

const Baseline* Report::FindBaseline(const std::string& name) const {
  for (const Baseline& b : baselines) {
    if (b.name == name) {
      return &b;
    }
  }
  return nullptr;
}

void Report::AddFigure(const std::string& name, const std::string& description, double value,
                       const std::string& unit, const std::string& baseline, const Target& target,
                       nlohmann::json details) {
  const Baseline* b = FindBaseline(baseline);
  if (b == nullptr || b->value <= 0) {
    errors.push_back(absl::StrCat(name, ": baseline ", baseline, " missing or zero"));
    return;
  }
  Figure f{.name = name,
           .description = description,
           .value = value,
           .unit = unit,
           .baseline = baseline,
           .baseline_value = b->value,
           .ratio = value / b->value,
           .target = target,
           .met = false,
           .details = std::move(details)};
  f.met = Met(target, f.value, f.ratio);
  figures.push_back(std::move(f));
}

const std::vector<std::string>& AllFigureNames() {
  static const auto* const names =
      new std::vector<std::string>{"ingest_large",    "fetch_cold",        "fetch_hot_tcp",
                                   "fetch_hot_unix",  "small_block_fetch", "small_block_disk_reads",
                                   "restart_indexed", "restart_unsealed",  "evict_reduce"};
  return *names;
}

nlohmann::json ToJson(const Report& report) {
  nlohmann::json j;
  const MachineInfo& m = report.machine;
  j["machine"] = {
      {"cores", m.cores},   {"cpu_model", m.cpu_model},     {"memory_bytes", m.memory_bytes},
      {"kernel", m.kernel}, {"data_dir", m.data_dir},       {"file_system", m.file_system},
      {"device", m.device}, {"mount_point", m.mount_point}, {"root", m.root}};
  j["command"] = report.command;
  j["quick"] = report.quick;
  j["total_seconds"] = report.total_seconds;
  j["baselines"] = nlohmann::json::array();
  for (const Baseline& b : report.baselines) {
    j["baselines"].push_back({{"name", b.name},
                              {"description", b.description},
                              {"value", b.value},
                              {"unit", b.unit},
                              {"kind", b.kind},
                              {"details", b.details}});
  }
  j["figures"] = nlohmann::json::array();
  for (const Figure& f : report.figures) {
    j["figures"].push_back({{"name", f.name},
                            {"description", f.description},
                            {"value", f.value},
                            {"unit", f.unit},
                            {"baseline", f.baseline},
                            {"baseline_value", f.baseline_value},
                            {"ratio", f.ratio},
                            {"target",
                             {{"goal", GoalName(f.target.goal)},
                              {"threshold", f.target.threshold},
                              {"text", TargetText(f.target, f.unit)},
                              {"design", f.target.design}}},
                            {"met", f.met},
                            {"details", f.details}});
  }
  j["sweeps"] = nlohmann::json::array();
  for (const Sweep& s : report.sweeps) {
    nlohmann::json points = nlohmann::json::array();
    for (const SweepPoint& p : s.points) {
      points.push_back({{"concurrency", p.concurrency}, {"value", p.value}, {"ratio", p.ratio}});
    }
    j["sweeps"].push_back({{"name", s.name},
                           {"description", s.description},
                           {"unit", s.unit},
                           {"baseline", s.baseline},
                           {"points", points}});
  }
  j["scenarios"] = nlohmann::json::array();
  for (const ScenarioRun& r : report.scenarios) {
    j["scenarios"].push_back({{"name", r.name},
                              {"ok", r.ok},
                              {"waited_for_quiet_seconds", r.waited_seconds},
                              {"seconds", r.seconds},
                              {"own_cpu_seconds", r.own_cpu_seconds},
                              {"other_cpu_seconds", r.other_cpu_seconds},
                              {"other_cpu_share", r.other_share},
                              {"machine_busy", r.other_share > kBusyMachineShare}});
  }
  j["notes"] = report.notes;
  j["errors"] = report.errors;
  return j;
}

std::string FormatTable(const Report& report) {
  std::string out;
  const MachineInfo& m = report.machine;
  absl::StrAppend(&out, "machine: ", m.cores, " cores (", m.cpu_model, "), kernel ", m.kernel,
                  ", data dir ", m.data_dir, " on ", m.file_system, " (", m.device, ")\n\n");
  absl::StrAppend(&out, "baselines\n");
  for (const Baseline& b : report.baselines) {
    std::string kind = b.kind;
    if (b.details.contains("queue_depth")) {
      absl::StrAppend(&kind, " (queue depth ", b.details["queue_depth"].get<int>(), ")");
    }
    absl::StrAppend(
        &out, absl::StrFormat("  %-26s %12s %-10s %s\n", b.name, Number(b.value), b.unit, kind));
  }
  absl::StrAppend(&out, "\n",
                  absl::StrFormat("%-24s %12s %-9s %-24s %9s %-12s %s\n", "figure", "value", "unit",
                                  "baseline", "ratio", "target", "met"));
  for (const Figure& f : report.figures) {
    absl::StrAppend(&out,
                    absl::StrFormat("%-24s %12s %-9s %-24s %9s %-12s %s\n", f.name, Number(f.value),
                                    f.unit, f.baseline, Number(f.ratio) + "x",
                                    TargetText(f.target, f.unit), f.met ? "met" : "MISSED"));
  }
  for (const Sweep& s : report.sweeps) {
    absl::StrAppend(&out, "\nsweep ", s.name, " (", s.unit, ", ratio to ", s.baseline, ")\n");
    for (const SweepPoint& p : s.points) {
      absl::StrAppend(&out, absl::StrFormat("  %3u  %10s  %6sx\n", p.concurrency, Number(p.value),
                                            Number(p.ratio)));
    }
  }
  absl::StrAppend(&out, "\nscenario    seconds  own CPU s  other CPU share\n");
  for (const ScenarioRun& r : report.scenarios) {
    absl::StrAppend(
        &out, absl::StrFormat(
                  "  %-9s %7.1f  %9.1f  %6.0f%%%s\n", r.name, r.seconds, r.own_cpu_seconds,
                  100 * r.other_share,
                  r.other_share > kBusyMachineShare ? "  BUSY MACHINE: figures unreliable" : ""));
  }
  for (const std::string& note : report.notes) {
    absl::StrAppend(&out, "\nnote: ", note);
  }
  for (const std::string& error : report.errors) {
    absl::StrAppend(&out, "\nERROR: ", error);
  }
  absl::StrAppend(&out, absl::StrFormat("\n\ntotal time %.1f s\n", report.total_seconds));
  return out;
}

}  // namespace shuffle::bench
