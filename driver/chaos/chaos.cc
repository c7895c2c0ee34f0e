#include "driver/chaos/chaos.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::chaos {
namespace {

// `count` evictions at instants of a stage drawn from `rng`.
void AddEvictions(uint32_t count, bool reduce_stage, std::mt19937_64& rng,
                  std::vector<PlannedFault>* plan) {
  std::uniform_real_distribution<double> at(0.1, 0.8);
  for (uint32_t i = 0; i < count; ++i) {
    plan->push_back(PlannedFault{
        .kind = FaultKind::kEvictExecutor, .reduce_stage = reduce_stage, .at = at(rng)});
  }
}

const char* StageName(const PlannedFault& f) { return f.reduce_stage ? "reduce" : "map"; }

}  // namespace

std::vector<PlannedFault> FullPlan(const ChaosOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::vector<PlannedFault> plan = options.faults;
  AddEvictions(options.evictions_during_map, false, rng, &plan);
  AddEvictions(options.evictions_during_reduce, true, rng, &plan);
  std::stable_sort(plan.begin(), plan.end(), [](const PlannedFault& a, const PlannedFault& b) {
    return a.reduce_stage != b.reduce_stage ? !a.reduce_stage : a.at < b.at;
  });
  return plan;
}

Chaos::Chaos(runner::JobRunner* runner, const ChaosOptions& options)
    : runner_(runner),
      target_(options.target),
      plan_(FullPlan(options)),
      random_(options.seed ^ 0x9e3779b97f4a7c15ULL) {}

void Chaos::Attach() {
  runner_->set_tick([this](const scheduler::Progress& p) { Step(p); });
}

void Chaos::Step(const scheduler::Progress& p) {
  // Every planned fault whose stage has reached its instant (a map-stage fault whose stage ended
  // first strikes at once).
  while (!plan_.empty()) {
    const PlannedFault next = plan_.front();
    const double done = next.reduce_stage
                            ? static_cast<double>(p.reduces_done) / std::max(1u, p.num_reduces)
                            : static_cast<double>(p.maps_done) / std::max(1u, p.num_maps);
    const bool due = next.reduce_stage ? p.map_stage_complete && done >= next.at
                                       : p.map_stage_complete || done >= next.at;
    if (!due) {
      return;
    }
    absl::StatusOr<std::string> what = Inject(next);
    const std::string line =
        absl::StrFormat("[%s %2.0f%%] %s", StageName(next), done * 100,
                        what.ok() ? *what
                                  : absl::StrCat(core::ToAbsl(FaultName(next.kind)),
                                                 " not injected: ", what.status().message()));
    SHUFFLE_LOG(INFO) << "fault" << core::Kv("what", line);
    done_.push_back(line);
    plan_.erase(plan_.begin());
  }
}

std::vector<std::string> Chaos::Lines() const {
  std::vector<std::string> lines = done_;
  for (const PlannedFault& f : plan_) {
    lines.push_back(absl::StrFormat("[%s %2.0f%%] %s not reached: the job ended first",
                                    StageName(f), f.at * 100, core::ToAbsl(FaultName(f.kind))));
  }
  return lines;
}

absl::StatusOr<std::string> Chaos::PickVictim() {
  std::vector<std::string> live;
  for (const std::string& id : runner_->LiveExecutors()) {
    if (struck_.count(id) == 0) {
      live.push_back(id);
    }
  }
  std::vector<std::string> busy;
  for (const std::string& id : live) {
    if (runner_->IsBusy(id)) {
      busy.push_back(id);
    }
  }
  std::vector<std::string>& pool = busy.empty() ? live : busy;
  if (pool.empty()) {
    return absl::FailedPreconditionError("no executor to strike");
  }
  std::string victim =
      pool[std::chrono::steady_clock::now().time_since_epoch().count() % pool.size()];
  struck_.insert(victim);
  return victim;
}

absl::StatusOr<std::string> Chaos::Inject(const PlannedFault& fault) {
  const uint64_t random = random_();
  if (fault.kind == FaultKind::kEvictExecutor) {
    // An executor may already be gone with its node (a node loss of the same moment) before
    // the pod manager hears of it: pick another (PickVictim never picks one twice).
    for (;;) {
      SHUFFLE_ASSIGN_OR_RETURN(std::string victim, PickVictim());
      absl::Status evicted = runner_->Evict(victim);
      if (absl::IsNotFound(evicted)) {
        continue;
      }
      SHUFFLE_RETURN_IF_ERROR(evicted);
      return absl::StrCat("evict ", victim);
    }
  }
  if (target_ == nullptr) {
    return absl::UnimplementedError("this cluster cannot inject it");
  }
  std::string victim;
  if (fault.kind == FaultKind::kKillExecutor) {
    SHUFFLE_ASSIGN_OR_RETURN(victim, PickVictim());
  }
  return target_->Inject(fault.kind, victim, random);
}

absl::StatusOr<runner::JobReport> RunWithChaos(runner::JobRunner& runner,
                                               const ChaosOptions& options) {
  Chaos chaos(&runner, options);
  chaos.Attach();
  absl::StatusOr<runner::JobReport> report = runner.Run();
  if (report.ok()) {
    report->faults = chaos.Lines();
  }
  return report;
}

}  // namespace shuffle::chaos
