// The scenarios of one run. The baseline scenarios measure the machine; each service scenario
// starts its own shuffle-server (BenchServer) in a subdirectory of the run directory, drives it
// through the client library (workload.h) and adds its figures to the report as ratios to the
// baselines already in it. A failed scenario returns its error and leaves no process or files
// behind. Functions; run one at a time (they measure the same disk and cores).
#ifndef SHUFFLE_BENCH_HARNESS_SCENARIOS_H_
#define SHUFFLE_BENCH_HARNESS_SCENARIOS_H_

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "bench/harness/options.h"
#include "bench/harness/report.h"
#include "bench/harness/workload.h"

namespace shuffle::bench {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;

struct ScenarioContext {
  const HarnessOptions* options = nullptr;
  std::string run_dir;  // on the file system the disk baseline measured
};

inline double MiBPerSecond(uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / kMiB / seconds : 0;
}

// The ingest of the scenarios that compare two ways of writing (tls, replicas): a quarter of the
// profile's ingest bytes, at least 16 blocks of `block_bytes`, one map per writer.
inline MapShape QuarterIngest(const Profile& p, uint32_t block_bytes) {
  const uint64_t bytes = std::max<uint64_t>(p.ingest_bytes / 4, uint64_t{block_bytes} * 16);
  return MapShape{.maps = p.ingest_writers,
                  .blocks_per_map = static_cast<uint32_t>(bytes / block_bytes / p.ingest_writers),
                  .block_bytes = block_bytes,
                  .concurrency = p.ingest_writers};
}

// Baselines: disk_write and disk_read (MiB/s, raw io_uring O_DIRECT).
absl::Status RunDiskBaselines(const ScenarioContext& ctx, Report* report);
// Baselines: tcp_loopback and unix_stream (MiB/s).
absl::Status RunNetBaselines(const ScenarioContext& ctx, Report* report);

// ingest_large, fetch_cold, fetch_hot_tcp, fetch_hot_unix.
absl::Status RunIngestScenario(const ScenarioContext& ctx, Report* report);
// small_block_fetch, small_block_disk_reads (and the reference baseline spark_ess_blocks).
absl::Status RunSmallBlockScenario(const ScenarioContext& ctx, Report* report);
// The push_ingest and fetch sweeps.
absl::Status RunSweepScenario(const ScenarioContext& ctx, Report* report);
// restart_unsealed, restart_indexed (and the empty_server_start baseline).
absl::Status RunRestartScenario(const ScenarioContext& ctx, Report* report);
// tls_ingest and tls_fetch_hot (and their plaintext baselines, measured alongside).
absl::Status RunTlsScenario(const ScenarioContext& ctx, Report* report);
// ingest_two_copies (and the ingest_one_copy baseline): replicas=2's cost.
absl::Status RunReplicasScenario(const ScenarioContext& ctx, Report* report);
// evict_reduce (and the job_without_eviction baseline), through shuffle-driver.
absl::Status RunEvictScenario(const ScenarioContext& ctx, Report* report);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_SCENARIOS_H_
