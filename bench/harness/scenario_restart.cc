// Restart with many indexed blocks: maps x partitions tiny committed blocks, then SIGKILL and a
// restart on the same directories, timed until the ready file appears and a fetch succeeds.
// Twice: before the shuffle is sealed (blocks in commit logs and aggregation buffers, replayed by
// recovery) and after (blocks in extents, only the index to reopen).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/harness/bench_server.h"
#include "bench/harness/scenarios.h"
#include "bench/harness/workload.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr uint32_t kTinyBlockBytes = 64;
constexpr uint32_t kWriters = 8;

const Target kRestartTarget{.goal = Goal::kValueAtMost,
                            .threshold = 2.0,
                            .design =
                                "restart with a million indexed blocks: ready in under 2 s "
                                "(here: ready file and a first fetch)"};

// SIGKILL, restart, fetch `partition`; adds the figure.
absl::Status TimeRestart(BenchServer& server, const client::ShuffleHandle& handle,
                         const WriteResult& written, uint32_t partition, const std::string& name,
                         const std::string& description, Report* report) {
  SHUFFLE_ASSIGN_OR_RETURN(double ready, server.KillAndRestart());
  // Scraped after the timed fetch too: what the first fetch made the server write.
  SHUFFLE_ASSIGN_OR_RETURN(auto before, server.ScrapeMetrics());
  SHUFFLE_ASSIGN_OR_RETURN(FetchResult r, FetchPartitions(handle, written.statuses,
                                                          FetchSpec{.server = server.tcp_address(),
                                                                    .partition_begin = partition,
                                                                    .partition_end = partition + 1,
                                                                    .readers = 1,
                                                                    .tls_ca_file = ""}));
  const uint64_t expected = written.blocks / handle.num_partitions;
  if (r.blocks != expected) {
    return absl::DataLossError(absl::StrCat(name, ": fetched ", r.blocks, " blocks of partition ",
                                            partition, " after the restart, expected ", expected));
  }
  SHUFFLE_ASSIGN_OR_RETURN(auto after, server.ScrapeMetrics());
  report->AddFigure(
      name, description, ready + r.seconds, "s", "empty_server_start", kRestartTarget,
      {{"blocks", written.blocks},
       {"ready_seconds", ready},
       {"first_fetch_seconds", r.seconds},
       {"first_fetch_blocks", r.blocks},
       {"first_fetch_retries", r.retries},
       {"server_recovery_seconds", after["shuffle_recovery_duration_seconds"]},
       {"first_fetch_server_extents_written",
        after["shuffle_extents_written_total"] - before["shuffle_extents_written_total"]},
       {"first_fetch_server_written_bytes",
        after["shuffle_disk_written_bytes_total"] - before["shuffle_disk_written_bytes_total"]},
       {"ready_file_poll_interval_ms", 20}});
  return absl::OkStatus();
}

}  // namespace

absl::Status RunRestartScenario(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<BenchServer> server,
                           BenchServer::Start(BenchServerSpec{.binary = ctx.options->server,
                                                              .dir = ctx.run_dir + "/restart",
                                                              .unix_socket = true,
                                                              .extra_args = {}}));
  report->baselines.push_back(
      Baseline{.name = "empty_server_start",
               .description = "shuffle-server start on an empty data directory, to its ready file",
               .value = server->start_seconds(),
               .unit = "s",
               .kind = "measured",
               .details = nlohmann::json::object()});
  SHUFFLE_ASSIGN_OR_RETURN(client::ShuffleHandle handle,
                           server->RegisterShuffle(3, p.restart_partitions));
  SHUFFLE_ASSIGN_OR_RETURN(WriteResult written,
                           WriteMaps(server->unix_address(), handle,
                                     MapShape{.maps = p.restart_maps,
                                              .blocks_per_map = p.restart_partitions,
                                              .block_bytes = kTinyBlockBytes,
                                              .concurrency = kWriters}));
  report->notes.push_back(absl::StrCat("restart: populated ", written.blocks, " blocks (",
                                       p.restart_maps, " maps x ", p.restart_partitions,
                                       " partitions, ", kTinyBlockBytes, "-byte blocks) in ",
                                       absl::StrFormat("%.1f", written.seconds), " s"));
  SHUFFLE_RETURN_IF_ERROR(TimeRestart(
      *server, handle, written, 0, "restart_unsealed",
      "SIGKILL and restart before the seal (recovery replays commit logs); ready + first fetch",
      report));
  SHUFFLE_RETURN_IF_ERROR(server->Seal(handle));
  return TimeRestart(*server, handle, written, 1, "restart_indexed",
                     "SIGKILL and restart after the seal (every block in indexed extents); ready "
                     "+ first fetch",
                     report);
}

}  // namespace shuffle::bench
