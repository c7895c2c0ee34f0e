#include "driver/chaos/fault_plan.h"

#include <algorithm>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/strings.h"

namespace shuffle::chaos {
namespace {

constexpr FaultKind kKinds[] = {FaultKind::kEvictExecutor, FaultKind::kKillExecutor,
                                FaultKind::kKillServer,    FaultKind::kRestartServer,
                                FaultKind::kDiskFull,      FaultKind::kNodeLoss,
                                FaultKind::kPartition,     FaultKind::kSlowDisk,
                                FaultKind::kNodeDrain,     FaultKind::kNodeCrash};

}  // namespace

std::string_view FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kEvictExecutor:
      return "evict";
    case FaultKind::kKillExecutor:
      return "kill-executor";
    case FaultKind::kKillServer:
      return "kill-server";
    case FaultKind::kRestartServer:
      return "restart-server";
    case FaultKind::kDiskFull:
      return "disk-full";
    case FaultKind::kNodeLoss:
      return "node-loss";
    case FaultKind::kPartition:
      return "partition";
    case FaultKind::kSlowDisk:
      return "slow-disk";
    case FaultKind::kNodeDrain:
      return "node-drain";
    case FaultKind::kNodeCrash:
      return "node-crash";
  }
  return "?";
}

std::string FaultNames() {
  std::string out;
  for (FaultKind kind : kKinds) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", core::ToAbsl(FaultName(kind)));
  }
  return out;
}

absl::StatusOr<std::vector<PlannedFault>> PlanFaults(std::string_view spec, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> instant(0.1, 0.8);
  std::vector<PlannedFault> plan;
  for (absl::string_view part : absl::StrSplit(core::ToAbsl(spec), ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> kind_count = absl::StrSplit(part, absl::MaxSplits('=', 1));
    std::vector<absl::string_view> count_stage =
        absl::StrSplit(kind_count.size() == 2 ? kind_count[1] : "", absl::MaxSplits('@', 1));
    auto kind = std::find_if(std::begin(kKinds), std::end(kKinds), [&](FaultKind k) {
      return core::ToAbsl(FaultName(k)) == kind_count[0];
    });
    uint32_t count = 0;
    const std::string_view stage =
        count_stage.size() == 2 ? std::string_view(count_stage[1].data(), count_stage[1].size())
                                : std::string_view();
    if (kind == std::end(kKinds) || kind_count.size() != 2 ||
        !absl::SimpleAtoi(count_stage[0], &count) ||
        (!stage.empty() && stage != "map" && stage != "reduce")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "chaos: \"", part, "\" is not KIND=N[@map|@reduce] with KIND one of ", FaultNames()));
    }
    for (uint32_t i = 0; i < count; ++i) {
      PlannedFault f;
      f.kind = *kind;
      f.reduce_stage = stage.empty() ? (rng() & 1) != 0 : stage == "reduce";
      f.at = instant(rng);
      plan.push_back(f);
    }
  }
  std::sort(plan.begin(), plan.end(), [](const PlannedFault& a, const PlannedFault& b) {
    return a.reduce_stage != b.reduce_stage ? !a.reduce_stage : a.at < b.at;
  });
  return plan;
}

}  // namespace shuffle::chaos
