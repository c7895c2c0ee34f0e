// A job with one executor evicted in its reduce stage against the same job without: the
// reference driver (shuffle-driver, local backend) runs both and reports its job time.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/harness/scenarios.h"
#include "shuffle/core/status_macros.h"
#include "tests/support/program.h"

namespace shuffle::bench {
namespace {

constexpr auto kJobTimeout = std::chrono::seconds(180);
constexpr int kDriverTimeoutSeconds = 150;

// The job time from the driver's report ("  total time        3.5 s; ...").
absl::StatusOr<double> ParseJobSeconds(const std::string& output, const std::string& log) {
  if (output.find("SUCCEEDED, output validated") == std::string::npos) {
    return absl::InternalError(absl::StrCat("the job did not succeed; see ", log));
  }
  const size_t at = output.rfind("total time");
  if (at == std::string::npos) {
    return absl::InternalError(absl::StrCat("no 'total time' in the driver's report; see ", log));
  }
  const char* begin = output.c_str() + at + std::string("total time").size();
  char* end = nullptr;
  const double seconds = std::strtod(begin, &end);
  if (end == begin || seconds <= 0) {
    return absl::InternalError(absl::StrCat("unreadable 'total time' in ", log));
  }
  return seconds;
}

absl::StatusOr<double> RunJob(const ScenarioContext& ctx, const std::string& name,
                              const std::string& chaos) {
  const Profile& p = ctx.options->profile;
  const std::string work = ctx.run_dir + "/evict/" + name;
  std::filesystem::create_directories(work);
  std::vector<std::string> argv = {ctx.options->driver,
                                   "--size=" + p.evict_size,
                                   absl::StrCat("--maps=", p.evict_maps),
                                   absl::StrCat("--partitions=", p.evict_partitions),
                                   "--work-dir=" + work + "/job",
                                   absl::StrCat("--timeout-seconds=", kDriverTimeoutSeconds),
                                   "--no-progress"};
  if (!chaos.empty()) {
    argv.push_back(chaos);
  }
  const std::string log = ctx.run_dir + "/evict/" + name + ".out";
  SHUFFLE_ASSIGN_OR_RETURN(
      testsupport::ProgramResult run,
      testsupport::RunProgram(argv, ctx.run_dir + "/evict", kJobTimeout, name));
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  if (run.exit_code != 0) {
    const std::string output = run.out + run.err;
    return absl::InternalError(
        absl::StrCat("shuffle-driver exited with ", run.exit_code, ": ",
                     output.substr(output.size() > 2000 ? output.size() - 2000 : 0)));
  }
  return ParseJobSeconds(run.out, log);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

absl::Status RunEvictScenario(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  if (access(ctx.options->driver.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("shuffle-driver not found at ", ctx.options->driver,
                     ": build it (ninja shuffle-driver shuffle-executor) or pass --driver"));
  }
  std::vector<double> plain;
  std::vector<double> evicted;
  for (uint32_t i = 0; i < std::max<uint32_t>(1, p.evict_repeats); ++i) {
    SHUFFLE_ASSIGN_OR_RETURN(double t, RunJob(ctx, absl::StrCat("plain-", i), ""));
    plain.push_back(t);
    SHUFFLE_ASSIGN_OR_RETURN(double e,
                             RunJob(ctx, absl::StrCat("evict-", i), "--chaos=evict=1@reduce"));
    evicted.push_back(e);
  }
  const nlohmann::json job = {{"job", "sort"},        {"size", p.evict_size},
                              {"maps", p.evict_maps}, {"partitions", p.evict_partitions},
                              {"nodes", 3},           {"executors", 3}};
  nlohmann::json plain_details = job;
  plain_details["runs_seconds"] = plain;
  report->baselines.push_back(
      Baseline{.name = "job_without_eviction",
               .description = "shuffle-driver sort job on the local backend (median job time)",
               .value = Median(plain),
               .unit = "s",
               .kind = "measured",
               .details = plain_details});
  nlohmann::json evict_details = job;
  evict_details["runs_seconds"] = evicted;
  evict_details["chaos"] = "evict=1@reduce";
  report->AddFigure("evict_reduce",
                    "the same job with one executor evicted (SIGKILL) in its reduce stage "
                    "(median job time)",
                    Median(evicted), "s", "job_without_eviction",
                    Target{.goal = Goal::kRatioAtMost,
                           .threshold = 1.1,
                           .design = "a job with one executor evicted in its reduce stage: <= "
                                     "1.1x the time without eviction"},
                    evict_details);
  return absl::OkStatus();
}

}  // namespace shuffle::bench
