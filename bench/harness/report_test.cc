// MergeRounds: a run's figures are the median round's, with every round's ratio and BUSY flag;
// ProcessUse reads another process's CPU time and page faults.
#include "bench/harness/report.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shuffle::bench {
namespace {

const Target kAtLeast{.goal = Goal::kRatioAtLeast, .threshold = 0.85, .design = "d"};
const Target kValueAtMost{.goal = Goal::kValueAtMost, .threshold = 2.0, .design = "d"};

// One round: a disk baseline of `disk`, an ingest figure of `ingest` against it, a restart figure
// of `restart` seconds, all flagged `busy`.
Report Round(double disk, double ingest, double restart, bool busy) {
  Report r;
  r.baselines.push_back(Baseline{.name = "disk_write",
                                 .description = "",
                                 .value = disk,
                                 .unit = "MiB/s",
                                 .kind = "measured",
                                 .details = nlohmann::json::object(),
                                 .busy = busy});
  r.baselines.push_back(Baseline{.name = "empty_server_start",
                                 .description = "",
                                 .value = 0.1,
                                 .unit = "s",
                                 .kind = "measured",
                                 .details = nlohmann::json::object(),
                                 .busy = busy});
  r.AddFigure("ingest_large", "", ingest, "MiB/s", "disk_write", kAtLeast,
              {{"round_ingest", ingest}});
  r.AddFigure("restart_unsealed", "", restart, "s", "empty_server_start", kValueAtMost);
  for (Figure& f : r.figures) {
    f.busy = busy;
  }
  r.sweeps.push_back(
      Sweep{.name = "fetch",
            .description = "",
            .unit = "MiB/s",
            .baseline = "disk_read",
            .points = {{.concurrency = 1, .value = ingest, .ratio = ingest / disk}}});
  r.scenarios.push_back(ScenarioRun{.name = "ingest", .ok = true});
  r.notes.push_back("same note");
  return r;
}

TEST(MergeRoundsTest, ReportsTheMedianRoundWithMinMaxAndBusyRounds) {
  std::vector<Report> rounds;
  // Ratios 0.5, 0.9, 0.6, 0.3, 0.8: the median is 0.6 (round 3), though no round's baseline
  // or value alone is the median of its kind.
  rounds.push_back(Round(1000, 500, 3.0, false));
  rounds.push_back(Round(1000, 900, 1.0, true));
  rounds.push_back(Round(500, 300, 1.5, false));
  rounds.push_back(Round(2000, 600, 1.8, false));
  rounds.push_back(Round(1000, 800, 0.9, false));
  const Report merged = MergeRounds(std::move(rounds));

  ASSERT_EQ(merged.figures.size(), 2u);
  const Figure& ingest = merged.figures[0];
  EXPECT_EQ(ingest.name, "ingest_large");
  EXPECT_DOUBLE_EQ(ingest.ratio, 0.6);
  EXPECT_DOUBLE_EQ(ingest.value, 300);  // the median round's own value and baseline
  EXPECT_DOUBLE_EQ(ingest.baseline_value, 500);
  EXPECT_EQ(ingest.details["round_ingest"].get<double>(), 300);
  EXPECT_FALSE(ingest.met);
  ASSERT_EQ(ingest.rounds.size(), 5u);
  EXPECT_DOUBLE_EQ(ingest.rounds[1].ratio, 0.9);
  EXPECT_TRUE(ingest.rounds[1].busy);
  EXPECT_TRUE(ingest.busy);

  // A value goal takes the median value: 1.5 s of 3.0, 1.0, 1.5, 1.8, 0.9.
  const Figure& restart = merged.figures[1];
  EXPECT_DOUBLE_EQ(restart.value, 1.5);
  EXPECT_TRUE(restart.met);

  ASSERT_EQ(merged.baselines.size(), 2u);
  EXPECT_DOUBLE_EQ(merged.baselines[0].value, 1000);
  ASSERT_EQ(merged.baselines[0].rounds.size(), 5u);

  ASSERT_EQ(merged.sweeps.size(), 1u);
  EXPECT_DOUBLE_EQ(merged.sweeps[0].points[0].value, 600);  // 300 500 600 800 900

  ASSERT_EQ(merged.scenarios.size(), 5u);
  EXPECT_EQ(merged.scenarios[0].round, 1u);
  EXPECT_EQ(merged.scenarios[4].round, 5u);
  EXPECT_EQ(merged.notes, std::vector<std::string>{"same note"});

  const nlohmann::json j = ToJson(merged);
  EXPECT_EQ(j["rounds"].get<int>(), 5);
  EXPECT_DOUBLE_EQ(j["figures"][0]["ratio_min"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(j["figures"][0]["ratio_max"].get<double>(), 0.9);
  EXPECT_EQ(j["figures"][0]["busy_rounds"].get<int>(), 1);
  EXPECT_EQ(j["figures"][0]["rounds"].size(), 5u);
  const std::string table = FormatTable(merged);
  EXPECT_NE(table.find("[0.3x - 0.9x]"), std::string::npos) << table;
  EXPECT_NE(table.find("BUSY 1/5"), std::string::npos) << table;
}

TEST(MergeRoundsTest, OneRoundIsItself) {
  std::vector<Report> rounds;
  rounds.push_back(Round(1000, 900, 1.0, false));
  const Report merged = MergeRounds(std::move(rounds));
  ASSERT_EQ(merged.figures.size(), 2u);
  EXPECT_DOUBLE_EQ(merged.figures[0].ratio, 0.9);
  EXPECT_TRUE(merged.figures[0].met);
  EXPECT_FALSE(merged.figures[0].busy);
}

TEST(CostTest, PerGiBFiguresFromTwoSamples) {
  nlohmann::json details = nlohmann::json::object();
  AddCostPerGiB("server", ResourceUse{.cpu_seconds = 1, .minor_faults = 10, .major_faults = 1},
                ResourceUse{.cpu_seconds = 2, .minor_faults = 1010, .major_faults = 3},
                uint64_t{2} << 30, &details);
  EXPECT_DOUBLE_EQ(details["server_cpu_s_per_gib"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(details["server_minflt_per_gib"].get<double>(), 500);
  EXPECT_DOUBLE_EQ(details["server_majflt_per_gib"].get<double>(), 1);
}

TEST(CostTest, ProcessUseReadsALiveProcessAndRefusesAGoneOne) {
  const ResourceUse self = SelfUse();
  absl::StatusOr<ResourceUse> proc = ProcessUse(getpid());
  ASSERT_TRUE(proc.ok()) << proc.status();
  // The same process seen two ways: /proc counts at least the faults getrusage saw before.
  EXPECT_GE(proc->minor_faults, self.minor_faults);
  EXPECT_GT(proc->minor_faults, 0u);
  EXPECT_EQ(ProcessUse(-1).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace shuffle::bench
