// Large blocks: durable push ingest, then the same data fetched cold, hot over TCP and hot over
// the Unix socket, on one server.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/harness/bench_server.h"
#include "bench/harness/disk_baseline.h"
#include "bench/harness/scenarios.h"
#include "bench/harness/workload.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr uint32_t kLargeBlockBytes = 1u << 20;

// Server-side disk counters around one step.
struct DiskCounters {
  double reads = 0;
  double read_bytes = 0;
  double written_bytes = 0;
};

absl::StatusOr<DiskCounters> ReadCounters(const BenchServer& server) {
  SHUFFLE_ASSIGN_OR_RETURN(auto m, server.ScrapeMetrics());
  return DiskCounters{.reads = m["shuffle_disk_reads_total"],
                      .read_bytes = m["shuffle_disk_read_bytes_total"],
                      .written_bytes = m["shuffle_disk_written_bytes_total"]};
}

// What a step cost the server process and this one (the client library), for the per-GiB
// figures beside each throughput.
struct Costs {
  ResourceUse server;
  ResourceUse client;
};

absl::StatusOr<Costs> SampleCosts(const BenchServer& server) {
  SHUFFLE_ASSIGN_OR_RETURN(ResourceUse use, server.Use());
  return Costs{.server = use, .client = SelfUse()};
}

void AddCosts(const Costs& before, const Costs& after, uint64_t bytes, nlohmann::json* details) {
  AddCostPerGiB("server", before.server, after.server, bytes, details);
  AddCostPerGiB("client", before.client, after.client, bytes, details);
}

// Server disk counters cover all `fetches` of the step.
nlohmann::json FetchDetails(const FetchResult& r, const DiskCounters& before,
                            const DiskCounters& after, const std::string& transport,
                            uint32_t fetches) {
  return {{"bytes", r.bytes},
          {"blocks", r.blocks},
          {"seconds", r.seconds},
          {"readers", 1},
          {"transport", transport},
          {"server_disk_reads_per_fetch", (after.reads - before.reads) / fetches},
          {"server_disk_read_bytes_per_fetch", (after.read_bytes - before.read_bytes) / fetches}};
}

// Fetches `repeats` times; the run with the median throughput, with every run's MiB/s.
absl::StatusOr<FetchResult> MedianFetch(const client::ShuffleHandle& handle,
                                        const std::vector<client::MapStatus>& statuses,
                                        const FetchSpec& spec, uint32_t repeats,
                                        nlohmann::json* runs) {
  std::vector<FetchResult> results;
  for (uint32_t i = 0; i < std::max<uint32_t>(1, repeats); ++i) {
    SHUFFLE_ASSIGN_OR_RETURN(FetchResult r, FetchPartitions(handle, statuses, spec));
    results.push_back(r);
    runs->push_back(MiBPerSecond(r.bytes, r.seconds));
  }
  std::sort(results.begin(), results.end(), [](const FetchResult& a, const FetchResult& b) {
    return MiBPerSecond(a.bytes, a.seconds) < MiBPerSecond(b.bytes, b.seconds);
  });
  return results[results.size() / 2];
}

}  // namespace

absl::Status RunIngestScenario(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<BenchServer> server,
                           BenchServer::Start(BenchServerSpec{.binary = ctx.options->server,
                                                              .dir = ctx.run_dir + "/ingest",
                                                              .unix_socket = true,
                                                              .extra_args = {}}));
  SHUFFLE_ASSIGN_OR_RETURN(client::ShuffleHandle handle,
                           server->RegisterShuffle(1, p.ingest_partitions));
  const MapShape shape{
      .maps = p.ingest_writers,
      .blocks_per_map = static_cast<uint32_t>(p.ingest_bytes / kLargeBlockBytes / p.ingest_writers),
      .block_bytes = kLargeBlockBytes,
      .concurrency = p.ingest_writers};
  SHUFFLE_ASSIGN_OR_RETURN(DiskCounters c0, ReadCounters(*server));
  SHUFFLE_ASSIGN_OR_RETURN(Costs cost0, SampleCosts(*server));
  // Executors push to their node-local server over its Unix socket (DESIGN.md section 3).
  SHUFFLE_ASSIGN_OR_RETURN(WriteResult written, WriteMaps(server->unix_address(), handle, shape));
  SHUFFLE_ASSIGN_OR_RETURN(Costs cost1, SampleCosts(*server));
  SHUFFLE_ASSIGN_OR_RETURN(DiskCounters c1, ReadCounters(*server));
  nlohmann::json ingest_details = {
      {"bytes", written.bytes},
      {"blocks", written.blocks},
      {"seconds", written.seconds},
      {"writers", shape.concurrency},
      {"block_bytes", shape.block_bytes},
      {"partitions", p.ingest_partitions},
      {"transport", "unix"},
      {"server_disk_written_bytes", c1.written_bytes - c0.written_bytes},
      {"write_amplification",
       (c1.written_bytes - c0.written_bytes) / static_cast<double>(written.bytes)}};
  AddCosts(cost0, cost1, written.bytes, &ingest_details);
  report->AddFigure(
      "ingest_large", "durable push ingest of 1 MiB blocks, acknowledged commits only",
      MiBPerSecond(written.bytes, written.seconds), "MiB/s", "disk_write",
      Target{.goal = Goal::kRatioAtLeast,
             .threshold = 0.85,
             .design = "durable push ingest at large blocks: >= 0.85x raw io_uring sequential "
                       "direct write"},
      ingest_details);

  const bool dropped = DropPageCache();
  if (!dropped) {
    report->notes.push_back("page cache not dropped before the cold fetch (needs root)");
  }
  const FetchSpec all_tcp{.server = server->tcp_address(),
                          .partition_begin = 0,
                          .partition_end = p.ingest_partitions,
                          .readers = 1,
                          .tls_ca_file = ""};
  SHUFFLE_ASSIGN_OR_RETURN(Costs cost2, SampleCosts(*server));
  SHUFFLE_ASSIGN_OR_RETURN(FetchResult cold, FetchPartitions(handle, written.statuses, all_tcp));
  SHUFFLE_ASSIGN_OR_RETURN(Costs cost3, SampleCosts(*server));
  SHUFFLE_ASSIGN_OR_RETURN(DiskCounters c2, ReadCounters(*server));
  nlohmann::json cold_details = FetchDetails(cold, c1, c2, "tcp", 1);
  AddCosts(cost2, cost3, cold.bytes, &cold_details);
  cold_details["page_cache_dropped"] = dropped;
  report->AddFigure("fetch_cold",
                    "one reducer fetching every partition after the page cache was dropped "
                    "(the server sends from the page cache with sendfile)",
                    MiBPerSecond(cold.bytes, cold.seconds), "MiB/s", "disk_read",
                    Target{.goal = Goal::kRatioAtLeast,
                           .threshold = 0.85,
                           .design = "cold partition fetch: >= 0.85x raw sequential direct read"},
                    cold_details);

  // The same fetch again, its pages now cached: over TCP, then over the Unix socket.
  DiskCounters before = c2;
  auto hot_fetch = [&](const FetchSpec& spec, const char* transport, const char* name,
                       const char* description, const char* baseline,
                       const char* design) -> absl::Status {
    nlohmann::json runs = nlohmann::json::array();
    SHUFFLE_ASSIGN_OR_RETURN(Costs cost_before, SampleCosts(*server));
    SHUFFLE_ASSIGN_OR_RETURN(
        FetchResult hot, MedianFetch(handle, written.statuses, spec, p.hot_fetch_repeats, &runs));
    SHUFFLE_ASSIGN_OR_RETURN(Costs cost_after, SampleCosts(*server));
    SHUFFLE_ASSIGN_OR_RETURN(DiskCounters after, ReadCounters(*server));
    nlohmann::json details = FetchDetails(hot, before, after, transport, p.hot_fetch_repeats);
    // Over all the repeats: each moved the same bytes.
    AddCosts(cost_before, cost_after, hot.bytes * std::max<uint32_t>(1, p.hot_fetch_repeats),
             &details);
    details["runs_mib_per_s"] = runs;
    before = after;
    report->AddFigure(name, description, MiBPerSecond(hot.bytes, hot.seconds), "MiB/s", baseline,
                      Target{.goal = Goal::kRatioAtLeast, .threshold = 1.0, .design = design},
                      details);
    return absl::OkStatus();
  };
  SHUFFLE_RETURN_IF_ERROR(hot_fetch(
      all_tcp, "tcp", "fetch_hot_tcp", "the same fetch again over loopback TCP (pages now cached)",
      "tcp_loopback", "hot fetch over loopback TCP: >= 1.0x a raw loopback TCP stream"));
  FetchSpec all_unix = all_tcp;
  all_unix.server = server->unix_address();
  SHUFFLE_RETURN_IF_ERROR(
      hot_fetch(all_unix, "unix", "fetch_hot_unix",
                "the same fetch again over the server's Unix socket", "unix_stream",
                "not in DESIGN.md; by analogy with hot fetch over TCP: >= 1.0x a raw Unix "
                "stream"));
  return absl::OkStatus();
}

}  // namespace shuffle::bench
