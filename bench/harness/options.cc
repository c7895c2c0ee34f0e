#include "bench/harness/options.h"

#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/files.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

#ifndef SHUFFLE_BENCH_SERVER_BINARY
#define SHUFFLE_BENCH_SERVER_BINARY "shuffle-server"
#endif
#ifndef SHUFFLE_BENCH_DRIVER_BINARY
#define SHUFFLE_BENCH_DRIVER_BINARY "shuffle-driver"
#endif

namespace shuffle::bench {
namespace {

using core::ToAbsl;

constexpr uint64_t kMiB = uint64_t{1} << 20;

bool KnownScenario(std::string_view name) {
  for (const char* known : kScenarioNames) {
    if (name == known) {
      return true;
    }
  }
  return false;
}

absl::Status ParseOnly(std::string_view value, HarnessOptions* options) {
  for (absl::string_view name : absl::StrSplit(ToAbsl(value), ',', absl::SkipWhitespace())) {
    if (!KnownScenario(core::FromAbsl(name))) {
      return absl::InvalidArgumentError(absl::StrCat("--only: unknown scenario '", name,
                                                     "'; expected a comma-separated list of ",
                                                     absl::StrJoin(kScenarioNames, ", ")));
    }
    options->only.emplace(name);
  }
  if (options->only.empty()) {
    return absl::InvalidArgumentError("--only: name at least one scenario");
  }
  return absl::OkStatus();
}

}  // namespace

Profile DefaultProfile() {
  return Profile{.disk_bytes = 1024 * kMiB,
                 .disk_chunk_bytes = 1 << 20,
                 .disk_queue_depths = {1, 4, 8, 64},
                 .net_seconds = 1.5,
                 .net_repeats = 3,
                 .ingest_bytes = 1024 * kMiB,
                 .ingest_writers = 4,
                 .ingest_partitions = 16,
                 .hot_fetch_repeats = 3,
                 .small_maps = 2000,
                 .small_partitions = 8,
                 .small_passes = 5,
                 .sweep_bytes = 1024 * kMiB,
                 .sweep_partitions = 64,
                 .sweep_points = {1, 2, 4, 8, 16, 32, 64},
                 .restart_maps = 1000,
                 .restart_partitions = 1000,
                 .evict_size = "512MiB",
                 .evict_maps = 32,
                 .evict_partitions = 16,
                 .evict_repeats = 3,
                 .quiet_wait_seconds = 20,
                 .rounds = 5};
}

Profile QuickProfile() {
  Profile p = DefaultProfile();  // the same shape, smaller
  p.disk_bytes = 64 * kMiB;
  p.net_seconds = 0.25;
  p.net_repeats = 2;
  p.ingest_bytes = 64 * kMiB;
  p.ingest_partitions = 8;
  p.hot_fetch_repeats = 1;
  p.small_maps = 200;
  p.small_partitions = 4;
  p.small_passes = 1;
  p.sweep_bytes = 64 * kMiB;
  p.restart_maps = 100;
  p.restart_partitions = 100;
  p.evict_size = "32MiB";
  p.evict_maps = 8;
  p.evict_partitions = 4;
  p.evict_repeats = 1;
  p.quiet_wait_seconds = 0;
  p.rounds = 1;
  return p;
}

core::FlagTable HarnessFlags(HarnessOptions* o) {
  core::FlagTable flags;
  flags.Switch("quick", "a small run for smoke tests (under 30 s)", [o] { o->quick = true; })
      .String("server", "PATH",
              "shuffle-server binary (default: the one built beside this "
              "program, " SHUFFLE_BENCH_SERVER_BINARY ")",
              &o->server)
      .String("driver", "PATH",
              "shuffle-driver binary for the eviction job (default: the one built beside this "
              "program)",
              &o->driver)
      .String("dir", "DIR",
              "temporary files go under DIR (default $TMPDIR or /tmp); the raw disk baseline and "
              "every server's --data-dir share this file system",
              &o->dir)
      .String("out", "DIR", "where the JSON and PNG go (default build/bench/harness)", &o->out)
      .Add("quiet-wait", "SECONDS",
           "before each scenario, wait at most this long for other processes to leave the CPUs "
           "(default 20; --quick: 0); a scenario that still shares them is flagged in the report",
           [o](std::string_view v) {
             if (!absl::SimpleAtod(ToAbsl(v), &o->quiet_wait_seconds) ||
                 o->quiet_wait_seconds < 0 || o->quiet_wait_seconds > 600) {
               return core::BadFlagValue("quiet-wait", v, "seconds from 0 to 600");
             }
             return absl::OkStatus();
           })
      .Add("rounds", "N",
           "run the whole plan N times, baselines and service interleaved, and report each "
           "figure as the median of its N ratios with min and max (default 5; --quick: 1)",
           [o](std::string_view v) {
             if (!absl::SimpleAtoi(ToAbsl(v), &o->rounds) || o->rounds < 1 || o->rounds > 50) {
               return core::BadFlagValue("rounds", v, "a count from 1 to 50");
             }
             return absl::OkStatus();
           })
      .Add("only", "NAME[,NAME]",
           absl::StrCat("run only these scenarios: ", absl::StrJoin(kScenarioNames, ", "),
                        " (the baselines a selected scenario needs run too)"),
           [o](std::string_view v) { return ParseOnly(v, o); });
  return flags;
}

std::string Usage() {
  HarnessOptions unused;
  return absl::StrCat(
      "Usage: shuffle-bench [flags]\n"
      "\n"
      "End-to-end benchmark of the shuffle service. One run first measures this machine's own\n"
      "limits (raw io_uring O_DIRECT write and read, raw loopback TCP and Unix-socket streams),\n"
      "then starts real shuffle-server processes and measures the service through the client\n"
      "library, reporting every figure as a ratio to its same-run baseline against the targets\n"
      "of DESIGN.md section 7. Writes shuffle-bench.json and shuffle-bench.png to --out and a\n"
      "table to stdout; exits 1 if a scenario failed (missed targets are not failures).\n"
      "\n"
      "Flags:\n",
      HarnessFlags(&unused).Help(),
      "\n"
      "Needs gnuplot (Debian package gnuplot-nox; tools/setup installs it) for the chart.\n"
      "Run as root to drop the page cache before the cold fetch.\n");
}

absl::StatusOr<HarnessOptions> ParseOptions(int argc, char** argv) {
  HarnessOptions options;
  options.server = SHUFFLE_BENCH_SERVER_BINARY;
  options.driver = SHUFFLE_BENCH_DRIVER_BINARY;
  options.dir = core::TempRoot();
  options.out = "build/bench/harness";
  for (int i = 0; i < argc; ++i) {
    options.command_line += (i == 0 ? "" : " ") + std::string(argv[i]);
  }
  const core::FlagTable flags = HarnessFlags(&options);
  SHUFFLE_ASSIGN_OR_RETURN(
      const core::CommandLine line,
      flags.Parse(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc)));
  SHUFFLE_RETURN_IF_ERROR(core::NoArguments(line));
  options.help = line.help;
  options.profile = options.quick ? QuickProfile() : DefaultProfile();
  if (options.quiet_wait_seconds < 0) {
    options.quiet_wait_seconds = options.profile.quiet_wait_seconds;
  }
  if (options.rounds == 0) {
    options.rounds = options.profile.rounds;
  }
  return options;
}

}  // namespace shuffle::bench
