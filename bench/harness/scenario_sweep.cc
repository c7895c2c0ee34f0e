// Concurrency sweeps: push ingest with 1..64 concurrent writers (a new shuffle per point, the
// same volume each), then 1..64 concurrent readers over the last shuffle written.
#include "absl/strings/str_cat.h"
#include "bench/harness/bench_server.h"
#include "bench/harness/scenarios.h"
#include "bench/harness/workload.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr uint32_t kLargeBlockBytes = 1u << 20;

double RatioTo(const Report& report, const std::string& baseline, double value) {
  const Baseline* b = report.FindBaseline(baseline);
  return b != nullptr && b->value > 0 ? value / b->value : 0;
}

}  // namespace

absl::Status RunSweepScenario(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<BenchServer> server,
                           BenchServer::Start(BenchServerSpec{.binary = ctx.options->server,
                                                              .dir = ctx.run_dir + "/sweep",
                                                              .unix_socket = true,
                                                              .extra_args = {}}));
  Sweep push{.name = "push_ingest",
             .description = absl::StrCat("N map writers at once pushing ", p.sweep_bytes / kMiB,
                                         " MiB in 1 MiB blocks over the Unix socket, committed"),
             .unit = "MiB/s",
             .baseline = "disk_write",
             .points = {}};
  Sweep fetch{.name = "fetch",
              .description = absl::StrCat("N reducers at once fetching ", p.sweep_partitions,
                                          " partitions (", p.sweep_bytes / kMiB,
                                          " MiB) over TCP; the server reads with O_DIRECT"),
              .unit = "MiB/s",
              .baseline = "disk_read",
              .points = {}};
  client::ShuffleHandle last_handle;
  std::vector<client::MapStatus> last_statuses;
  uint32_t shuffle = 100;
  for (uint32_t writers : p.sweep_points) {
    const uint64_t blocks = p.sweep_bytes / kLargeBlockBytes;
    if (writers == 0 || blocks < writers) {
      return absl::InvalidArgumentError(absl::StrCat("sweep point of ", writers, " writers needs ",
                                                     "at least one 1 MiB block per writer"));
    }
    SHUFFLE_ASSIGN_OR_RETURN(client::ShuffleHandle handle,
                             server->RegisterShuffle(shuffle++, p.sweep_partitions));
    SHUFFLE_ASSIGN_OR_RETURN(
        WriteResult written,
        WriteMaps(server->unix_address(), handle,
                  MapShape{.maps = writers,
                           .blocks_per_map = static_cast<uint32_t>(blocks / writers),
                           .block_bytes = kLargeBlockBytes,
                           .concurrency = writers}));
    const double value = MiBPerSecond(written.bytes, written.seconds);
    push.points.push_back(SweepPoint{
        .concurrency = writers, .value = value, .ratio = RatioTo(*report, push.baseline, value)});
    last_handle = handle;
    last_statuses = std::move(written.statuses);
  }
  for (uint32_t readers : p.sweep_points) {
    SHUFFLE_ASSIGN_OR_RETURN(FetchResult r,
                             FetchPartitions(last_handle, last_statuses,
                                             FetchSpec{.server = server->tcp_address(),
                                                       .partition_begin = 0,
                                                       .partition_end = p.sweep_partitions,
                                                       .readers = readers,
                                                       .tls_ca_file = ""}));
    const double value = MiBPerSecond(r.bytes, r.seconds);
    fetch.points.push_back(SweepPoint{
        .concurrency = readers, .value = value, .ratio = RatioTo(*report, fetch.baseline, value)});
  }
  report->sweeps.push_back(std::move(push));
  report->sweeps.push_back(std::move(fetch));
  return absl::OkStatus();
}

}  // namespace shuffle::bench
