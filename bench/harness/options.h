// Command line of shuffle-bench and the sizes of one run (the default profile, or the small
// --quick one). Plain values; safe to copy and to share between threads once parsed.
#ifndef SHUFFLE_BENCH_HARNESS_OPTIONS_H_
#define SHUFFLE_BENCH_HARNESS_OPTIONS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle/core/flags.h"

namespace shuffle::bench {

// Scenario names accepted by --only, in the order a run executes them.
inline constexpr const char* kScenarioNames[] = {"disk",    "net", "ingest", "small",   "sweep",
                                                 "restart", "tls", "evict",  "replicas"};

// How much work each scenario does.
struct Profile {
  uint64_t disk_bytes = 0;        // raw direct write and read volume
  uint32_t disk_chunk_bytes = 0;  // size of one io_uring write or read
  // Queue depths tried; the best of each direction is the baseline. 64 is the server's own.
  std::vector<uint32_t> disk_queue_depths;
  double net_seconds = 0;              // duration of each raw socket stream
  uint32_t net_repeats = 0;            // streams per kind; the best is the baseline
  uint64_t ingest_bytes = 0;           // pushed with 1 MiB blocks, then fetched cold and hot
  uint32_t ingest_writers = 0;         // concurrent map writers
  uint32_t ingest_partitions = 0;      // partitions of the ingest shuffle
  uint32_t hot_fetch_repeats = 0;      // hot fetches are repeated; the median is reported
  uint32_t small_maps = 0;             // maps of the small-block shuffle
  uint32_t small_partitions = 0;       // partitions (one ~4 KiB block per map and partition)
  uint32_t small_passes = 0;           // times every partition is fetched
  uint64_t sweep_bytes = 0;            // volume of each sweep point
  uint32_t sweep_partitions = 0;       // partitions of each sweep shuffle
  std::vector<uint32_t> sweep_points;  // concurrent writers / readers
  uint32_t restart_maps = 0;           // restart: maps x partitions tiny blocks
  uint32_t restart_partitions = 0;
  std::string evict_size;  // shuffle-driver --size of the eviction job
  uint32_t evict_maps = 0;
  uint32_t evict_partitions = 0;
  uint32_t evict_repeats = 0;     // jobs run with and without the eviction each
  double quiet_wait_seconds = 0;  // see HarnessOptions::quiet_wait_seconds
  uint32_t rounds = 0;            // see HarnessOptions::rounds
};

Profile DefaultProfile();
Profile QuickProfile();

struct HarnessOptions {
  bool help = false;
  bool quick = false;
  std::string server;          // shuffle-server binary
  std::string driver;          // shuffle-driver binary (the eviction scenario)
  std::string dir;             // the run's temporary directory is created under it
  std::string out;             // shuffle-bench.json and shuffle-bench.png go here
  std::set<std::string> only;  // scenarios to run; empty: all
  // Before each scenario, wait at most this long for other processes to leave the CPUs (-1:
  // the profile's default).
  double quiet_wait_seconds = -1;
  // Rounds of the whole plan, baselines and service interleaved; every figure is reported as
  // the median of its rounds, with min and max (0: the profile's default).
  uint32_t rounds = 0;
  std::string command_line;  // as given, for the report
  Profile profile;

  bool Runs(const std::string& scenario) const { return only.empty() || only.contains(scenario); }
};

// The flag table (core::FlagTable), its setters writing into `*options`.
core::FlagTable HarnessFlags(HarnessOptions* options);
// Parses argv. INVALID_ARGUMENT names the offending argument and says what is expected.
absl::StatusOr<HarnessOptions> ParseOptions(int argc, char** argv);

// The --help text.
std::string Usage();

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_OPTIONS_H_
