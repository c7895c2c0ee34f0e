// Small blocks: thousands of maps each writing one ~4 KiB block per partition; after the map
// stage is sealed, a reducer fetches its partition. Blocks per second, and disk reads per
// partition against bytes / 1 MiB.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bench/harness/bench_server.h"
#include "bench/harness/scenarios.h"
#include "bench/harness/workload.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr uint32_t kSmallBlockBytes = 4096;
constexpr uint32_t kWriters = 8;
// DESIGN.md section 7: "Spark's ESS serves about 45,000 blocks/s here".
constexpr double kSparkEssBlocksPerSecond = 45000;

void AddReferenceBaseline(Report* report) {
  if (report->FindBaseline("spark_ess_blocks") != nullptr) {
    return;
  }
  report->baselines.push_back(
      Baseline{.name = "spark_ess_blocks",
               .description = "Spark's external shuffle service serving 4 KiB blocks (DESIGN.md "
                              "section 7; one file open and ~6 system calls per block)",
               .value = kSparkEssBlocksPerSecond,
               .unit = "blocks/s",
               .kind = "reference",
               .details = nlohmann::json::object()});
}

}  // namespace

absl::Status RunSmallBlockScenario(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  AddReferenceBaseline(report);
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<BenchServer> server,
                           BenchServer::Start(BenchServerSpec{.binary = ctx.options->server,
                                                              .dir = ctx.run_dir + "/small",
                                                              .unix_socket = true,
                                                              .extra_args = {}}));
  SHUFFLE_ASSIGN_OR_RETURN(client::ShuffleHandle handle,
                           server->RegisterShuffle(2, p.small_partitions));
  SHUFFLE_ASSIGN_OR_RETURN(auto m0, server->ScrapeMetrics());
  SHUFFLE_ASSIGN_OR_RETURN(WriteResult written,
                           WriteMaps(server->unix_address(), handle,
                                     MapShape{.maps = p.small_maps,
                                              .blocks_per_map = p.small_partitions,
                                              .block_bytes = kSmallBlockBytes,
                                              .concurrency = kWriters}));
  // The driver seals a shuffle when its map stage is done: aggregation buffers become extents.
  SHUFFLE_RETURN_IF_ERROR(server->Seal(handle));
  SHUFFLE_ASSIGN_OR_RETURN(auto m1, server->ScrapeMetrics());

  uint64_t blocks = 0;
  double seconds = 0;
  double first_pass_reads = 0;
  for (uint32_t pass = 0; pass < p.small_passes; ++pass) {
    for (uint32_t partition = 0; partition < p.small_partitions; ++partition) {
      SHUFFLE_ASSIGN_OR_RETURN(FetchResult r,
                               FetchPartitions(handle, written.statuses,
                                               FetchSpec{.server = server->tcp_address(),
                                                         .partition_begin = partition,
                                                         .partition_end = partition + 1,
                                                         .readers = 1,
                                                         .tls_ca_file = ""}));
      blocks += r.blocks;
      seconds += r.seconds;
    }
    if (pass == 0) {
      SHUFFLE_ASSIGN_OR_RETURN(double reads, server->Metric("shuffle_disk_reads_total"));
      first_pass_reads = reads - m1["shuffle_disk_reads_total"];
    }
  }
  // The same blocks in one request per pass (every partition at once): the per-block cost
  // without each reducer's connection and request set-up.
  uint64_t all_blocks = 0;
  double all_seconds = 0;
  for (uint32_t pass = 0; pass < p.small_passes; ++pass) {
    SHUFFLE_ASSIGN_OR_RETURN(FetchResult r,
                             FetchPartitions(handle, written.statuses,
                                             FetchSpec{.server = server->tcp_address(),
                                                       .partition_begin = 0,
                                                       .partition_end = p.small_partitions,
                                                       .readers = 1,
                                                       .tls_ca_file = ""}));
    all_blocks += r.blocks;
    all_seconds += r.seconds;
  }
  const double written_to_disk =
      m1["shuffle_disk_written_bytes_total"] - m0["shuffle_disk_written_bytes_total"];
  const double write_amplification = written_to_disk / static_cast<double>(written.bytes);
  report->AddFigure(
      "small_block_fetch",
      "a reducer fetching its partition of 4 KiB blocks from thousands of maps",
      seconds > 0 ? static_cast<double>(blocks) / seconds : 0, "blocks/s", "spark_ess_blocks",
      Target{.goal = Goal::kRatioAtLeast,
             .threshold = 5.0,
             .design = "small blocks (4 KiB) fetched by a reducer: at least 5x Spark's ESS "
                       "(~45,000 blocks/s)"},
      {{"maps", p.small_maps},
       {"partitions", p.small_partitions},
       {"block_bytes", kSmallBlockBytes},
       {"passes", p.small_passes},
       {"blocks_fetched", blocks},
       {"seconds", seconds},
       {"seconds_per_partition_fetch", seconds / (p.small_passes * p.small_partitions)},
       {"blocks_per_s_all_partitions_in_one_request",
        all_seconds > 0 ? static_cast<double>(all_blocks) / all_seconds : 0},
       {"transport", "tcp"},
       {"populate_seconds", written.seconds},
       {"populate_writers", kWriters},
       {"write_amplification", write_amplification}});

  const double bytes_per_partition = static_cast<double>(written.bytes) / p.small_partitions;
  const double reads_per_partition = first_pass_reads / p.small_partitions;
  report->baselines.push_back(Baseline{
      .name = "partition_mib",
      .description = "bytes per partition / 1 MiB (at least 1): the reads a partition needs "
                     "when it lies in 1 MiB extents",
      .value = std::max(1.0, bytes_per_partition / kMiB),
      .unit = "reads",
      .kind = "derived",
      .details = {{"bytes_per_partition", bytes_per_partition}}});
  report->AddFigure(
      "small_block_disk_reads", "server disk reads per partition fetched (first pass)",
      reads_per_partition, "reads", "partition_mib",
      Target{.goal = Goal::kRatioAtMost,
             .threshold = 1.25,
             .design = "small blocks (thousands of maps, ~4 KiB blocks): disk reads per "
                       "partition per server close to bytes / 1 MiB, not one per map "
                       "(here: within 1.25x)"},
      {{"disk_reads", first_pass_reads},
       {"partitions", p.small_partitions},
       {"maps", p.small_maps},
       {"one_read_per_map_would_be", p.small_maps}});
  return absl::OkStatus();
}

}  // namespace shuffle::bench
