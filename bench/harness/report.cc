#include "bench/harness/report.h"

#include <algorithm>
#include <cstdio>
#include <map>

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

namespace {

// The element of `items` whose key is the median (the lower one of an even count).
template <typename T, typename Key>
const T& MedianBy(const std::vector<const T*>& items, Key key) {
  std::vector<const T*> sorted = items;
  std::sort(sorted.begin(), sorted.end(),
            [&](const T* a, const T* b) { return key(*a) < key(*b); });
  return *sorted[(sorted.size() - 1) / 2];
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[(values.size() - 1) / 2];
}

// Items grouped by name, names in the order of first appearance.
template <typename T>
std::vector<std::pair<std::string, std::vector<const T*>>> ByName(const std::vector<Report>& rounds,
                                                                  std::vector<T> Report::*list) {
  std::vector<std::pair<std::string, std::vector<const T*>>> groups;
  std::map<std::string, size_t> at;
  for (const Report& round : rounds) {
    for (const T& item : round.*list) {
      auto [it, inserted] = at.emplace(item.name, groups.size());
      if (inserted) {
        groups.emplace_back(item.name, std::vector<const T*>{});
      }
      groups[it->second].second.push_back(&item);
    }
  }
  return groups;
}

uint32_t BusyRounds(const std::vector<RoundValue>& rounds) {
  return static_cast<uint32_t>(
      std::count_if(rounds.begin(), rounds.end(), [](const RoundValue& r) { return r.busy; }));
}

}  // namespace

Report MergeRounds(std::vector<Report> rounds) {
  Report merged;
  if (rounds.empty()) {
    return merged;
  }
  merged.machine = rounds.front().machine;
  merged.command = rounds.front().command;
  merged.quick = rounds.front().quick;
  for (const auto& [name, items] : ByName(rounds, &Report::baselines)) {
    Baseline b = MedianBy(items, [](const Baseline& x) { return x.value; });
    b.rounds.clear();
    for (const Baseline* x : items) {
      b.rounds.push_back(RoundValue{.value = x->value, .ratio = 0, .busy = x->busy});
    }
    b.busy = BusyRounds(b.rounds) > 0;
    merged.baselines.push_back(std::move(b));
  }
  for (const auto& [name, items] : ByName(rounds, &Report::figures)) {
    Figure f = MedianBy(items, [](const Figure& x) {
      return x.target.goal == Goal::kValueAtMost ? x.value : x.ratio;
    });
    f.rounds.clear();
    for (const Figure* x : items) {
      f.rounds.push_back(RoundValue{.value = x->value, .ratio = x->ratio, .busy = x->busy});
    }
    f.busy = BusyRounds(f.rounds) > 0;
    merged.figures.push_back(std::move(f));
  }
  for (const auto& [name, items] : ByName(rounds, &Report::sweeps)) {
    Sweep s = *items.front();
    for (size_t i = 0; i < s.points.size(); ++i) {
      std::vector<double> values;
      std::vector<double> ratios;
      for (const Sweep* x : items) {
        if (i < x->points.size()) {
          values.push_back(x->points[i].value);
          ratios.push_back(x->points[i].ratio);
        }
      }
      s.points[i].value = Median(values);
      s.points[i].ratio = Median(ratios);
    }
    merged.sweeps.push_back(std::move(s));
  }
  for (size_t r = 0; r < rounds.size(); ++r) {
    Report& round = rounds[r];
    for (ScenarioRun& run : round.scenarios) {
      run.round = static_cast<uint32_t>(r + 1);
      merged.scenarios.push_back(std::move(run));
    }
    for (std::string& note : round.notes) {
      if (std::find(merged.notes.begin(), merged.notes.end(), note) == merged.notes.end()) {
        merged.notes.push_back(std::move(note));
      }
    }
    for (const std::string& error : round.errors) {
      merged.errors.push_back(rounds.size() > 1 ? absl::StrCat("round ", r + 1, ": ", error)
                                                : error);
    }
  }
  return merged;
}

void AddCostPerGiB(const std::string& prefix, const ResourceUse& before, const ResourceUse& after,
                   uint64_t bytes, nlohmann::json* details) {
  if (bytes == 0) {
    return;
  }
  const double gib = static_cast<double>(bytes) / (uint64_t{1} << 30);
  (*details)[prefix + "_cpu_s_per_gib"] = (after.cpu_seconds - before.cpu_seconds) / gib;
  (*details)[prefix + "_minflt_per_gib"] =
      static_cast<double>(after.minor_faults - before.minor_faults) / gib;
  (*details)[prefix + "_majflt_per_gib"] =
      static_cast<double>(after.major_faults - before.major_faults) / gib;
}

const std::vector<std::string>& AllFigureNames() {
  static const auto* const names =
      new std::vector<std::string>{"ingest_large",    "fetch_cold",        "fetch_hot_tcp",
                                   "fetch_hot_unix",  "small_block_fetch", "small_block_disk_reads",
                                   "restart_indexed", "restart_unsealed",  "tls_ingest",
                                   "tls_fetch_hot",   "evict_reduce"};
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
  auto rounds_json = [](const std::vector<RoundValue>& rounds, bool ratios) {
    nlohmann::json out = nlohmann::json::array();
    for (const RoundValue& r : rounds) {
      nlohmann::json one = {{"value", r.value}, {"busy", r.busy}};
      if (ratios) {
        one["ratio"] = r.ratio;
      }
      out.push_back(std::move(one));
    }
    return out;
  };
  auto min_max = [](const std::vector<RoundValue>& rounds, double RoundValue::*field,
                    double fallback) {
    if (rounds.empty()) {
      return std::make_pair(fallback, fallback);
    }
    auto [lo, hi] = std::minmax_element(
        rounds.begin(), rounds.end(),
        [&](const RoundValue& a, const RoundValue& b) { return a.*field < b.*field; });
    return std::make_pair((*lo).*field, (*hi).*field);
  };
  j["rounds"] = report.scenarios.empty() ? 0 : report.scenarios.back().round;
  j["baselines"] = nlohmann::json::array();
  for (const Baseline& b : report.baselines) {
    const auto [lo, hi] = min_max(b.rounds, &RoundValue::value, b.value);
    j["baselines"].push_back({{"name", b.name},
                              {"description", b.description},
                              {"value", b.value},
                              {"value_min", lo},
                              {"value_max", hi},
                              {"unit", b.unit},
                              {"kind", b.kind},
                              {"busy_rounds", BusyRounds(b.rounds)},
                              {"rounds", rounds_json(b.rounds, false)},
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
                            {"ratio_min", min_max(f.rounds, &RoundValue::ratio, f.ratio).first},
                            {"ratio_max", min_max(f.rounds, &RoundValue::ratio, f.ratio).second},
                            {"value_min", min_max(f.rounds, &RoundValue::value, f.value).first},
                            {"value_max", min_max(f.rounds, &RoundValue::value, f.value).second},
                            {"busy_rounds", BusyRounds(f.rounds)},
                            {"rounds", rounds_json(f.rounds, true)},
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
                              {"round", r.round},
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
  const uint32_t rounds = report.scenarios.empty() ? 0 : report.scenarios.back().round;
  absl::StrAppend(&out, "each value is the median of ", rounds,
                  " rounds (baselines and service interleaved), [min - max] beside it; BUSY n: "
                  "n rounds shared the CPUs with other processes\n\n");
  auto busy_text = [](const std::vector<RoundValue>& rs) -> std::string {
    const uint32_t busy = BusyRounds(rs);
    return busy == 0 ? "" : absl::StrCat("BUSY ", busy, "/", rs.size());
  };
  auto range = [](const std::vector<RoundValue>& rs, double RoundValue::*field,
                  const char* suffix) -> std::string {
    if (rs.size() < 2) {
      return "";
    }
    auto [lo, hi] = std::minmax_element(
        rs.begin(), rs.end(),
        [&](const RoundValue& a, const RoundValue& b) { return a.*field < b.*field; });
    return absl::StrCat("[", Number((*lo).*field), suffix, " - ", Number((*hi).*field), suffix,
                        "]");
  };
  absl::StrAppend(&out, "baselines\n");
  for (const Baseline& b : report.baselines) {
    std::string kind = b.kind;
    if (b.details.contains("queue_depth")) {
      absl::StrAppend(&kind, " (queue depth ", b.details["queue_depth"].get<int>(), ")");
    }
    absl::StrAppend(
        &out,
        absl::StrFormat("  %-26s %12s %-10s %-21s %-28s %s\n", b.name, Number(b.value), b.unit,
                        range(b.rounds, &RoundValue::value, ""), kind, busy_text(b.rounds)));
  }
  absl::StrAppend(
      &out, "\n",
      absl::StrFormat("%-24s %10s %-7s %-20s %8s %-19s %-12s %-6s %s\n", "figure", "value", "unit",
                      "baseline", "ratio", "[min - max]", "target", "met", "busy"));
  for (const Figure& f : report.figures) {
    absl::StrAppend(
        &out,
        absl::StrFormat("%-24s %10s %-7s %-20s %8s %-19s %-12s %-6s %s\n", f.name, Number(f.value),
                        f.unit, f.baseline, Number(f.ratio) + "x",
                        range(f.rounds, &RoundValue::ratio, "x"), TargetText(f.target, f.unit),
                        f.met ? "met" : "MISSED", busy_text(f.rounds)));
  }
  for (const Sweep& s : report.sweeps) {
    absl::StrAppend(&out, "\nsweep ", s.name, " (", s.unit, ", ratio to ", s.baseline, ")\n");
    for (const SweepPoint& p : s.points) {
      absl::StrAppend(&out, absl::StrFormat("  %3u  %10s  %6sx\n", p.concurrency, Number(p.value),
                                            Number(p.ratio)));
    }
  }
  absl::StrAppend(&out, "\nround  scenario    seconds  own CPU s  other CPU share\n");
  for (const ScenarioRun& r : report.scenarios) {
    absl::StrAppend(
        &out, absl::StrFormat(
                  "  %3u  %-9s %7.1f  %9.1f  %6.0f%%%s\n", r.round, r.name, r.seconds,
                  r.own_cpu_seconds, 100 * r.other_share,
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
