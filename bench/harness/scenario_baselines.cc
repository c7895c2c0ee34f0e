// The machine's own limits, measured first in every run.
#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bench/harness/disk_baseline.h"
#include "bench/harness/net_baseline.h"
#include "bench/harness/scenarios.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr uint32_t kStreamBufferBytes = 1u << 20;

}  // namespace

absl::Status RunDiskBaselines(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  const std::string dir = ctx.run_dir + "/baseline";
  std::filesystem::create_directories(dir);
  // The file goes whatever happens.
  struct Remove {
    std::string path;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } remove{dir + "/direct.dat"};
  DirectIoResult best_write;
  DirectIoResult best_read;
  uint32_t best_write_depth = 0;
  uint32_t best_read_depth = 0;
  nlohmann::json by_depth = nlohmann::json::array();
  nlohmann::json best_write_cost = nlohmann::json::object();
  nlohmann::json best_read_cost = nlohmann::json::object();
  bool dropped = false;
  for (uint32_t depth : p.disk_queue_depths) {
    const DirectIoSpec spec{.path = remove.path,
                            .bytes = p.disk_bytes,
                            .chunk_bytes = p.disk_chunk_bytes,
                            .queue_depth = depth};
    // The same write into preallocated space first (not a baseline: the depth figures say
    // what preallocation buys the server at each depth).
    DirectIoSpec preallocated = spec;
    preallocated.preallocate = true;
    SHUFFLE_ASSIGN_OR_RETURN(DirectIoResult write_preallocated, DirectWrite(preallocated));
    const ResourceUse use0 = SelfUse();
    SHUFFLE_ASSIGN_OR_RETURN(DirectIoResult write, DirectWrite(spec));
    const ResourceUse use1 = SelfUse();
    dropped = DropPageCache();
    const ResourceUse use2 = SelfUse();
    SHUFFLE_ASSIGN_OR_RETURN(DirectIoResult read, DirectRead(spec));
    const ResourceUse use3 = SelfUse();
    by_depth.push_back({{"queue_depth", depth},
                        {"write_mib_per_s", MiBPerSecond(write.bytes, write.seconds)},
                        {"write_preallocated_mib_per_s",
                         MiBPerSecond(write_preallocated.bytes, write_preallocated.seconds)},
                        {"read_mib_per_s", MiBPerSecond(read.bytes, read.seconds)}});
    if (write.BytesPerSecond() > best_write.BytesPerSecond()) {
      best_write = write;
      best_write_depth = depth;
      best_write_cost = nlohmann::json::object();
      AddCostPerGiB("process", use0, use1, write.bytes, &best_write_cost);
    }
    if (read.BytesPerSecond() > best_read.BytesPerSecond()) {
      best_read = read;
      best_read_depth = depth;
      best_read_cost = nlohmann::json::object();
      AddCostPerGiB("process", use2, use3, read.bytes, &best_read_cost);
    }
  }
  const nlohmann::json details = {{"bytes", p.disk_bytes},
                                  {"chunk_bytes", p.disk_chunk_bytes},
                                  {"o_direct", true},
                                  {"engine", "io_uring (liburing)"},
                                  {"by_queue_depth", by_depth}};
  nlohmann::json write_details = details;
  write_details["includes_fdatasync"] = true;
  write_details["queue_depth"] = best_write_depth;
  write_details.update(best_write_cost);
  report->baselines.push_back(Baseline{
      .name = "disk_write",
      .description = "raw io_uring sequential O_DIRECT write of a new file, then fdatasync "
                     "(best queue depth)",
      .value = MiBPerSecond(best_write.bytes, best_write.seconds),
      .unit = "MiB/s",
      .kind = "measured",
      .details = write_details});
  nlohmann::json read_details = details;
  read_details["queue_depth"] = best_read_depth;
  read_details["page_cache_dropped_before_read"] = dropped;
  read_details.update(best_read_cost);
  report->baselines.push_back(
      Baseline{.name = "disk_read",
               .description = "raw io_uring sequential O_DIRECT read of the same file (best "
                              "queue depth)",
               .value = MiBPerSecond(best_read.bytes, best_read.seconds),
               .unit = "MiB/s",
               .kind = "measured",
               .details = read_details});
  return absl::OkStatus();
}

absl::Status RunNetBaselines(const ScenarioContext& ctx, Report* report) {
  const Profile& p = ctx.options->profile;
  struct Kind {
    StreamKind kind;
    const char* name;
    const char* description;
  };
  for (const Kind& k :
       {Kind{StreamKind::kLoopbackTcp, "tcp_loopback",
             "one thread sending 1 MiB writes over loopback TCP, another receiving (best run)"},
        Kind{StreamKind::kUnixStream, "unix_stream",
             "the same over a Unix stream socket pair (best run)"}}) {
    StreamResult best;
    nlohmann::json runs = nlohmann::json::array();
    nlohmann::json details = {{"seconds_per_run", p.net_seconds},
                              {"buffer_bytes", kStreamBufferBytes}};
    for (uint32_t i = 0; i < std::max<uint32_t>(1, p.net_repeats); ++i) {
      const ResourceUse before = SelfUse();
      SHUFFLE_ASSIGN_OR_RETURN(StreamResult r,
                               MeasureStream(k.kind, p.net_seconds, kStreamBufferBytes));
      const ResourceUse after = SelfUse();
      runs.push_back(MiBPerSecond(r.bytes, r.seconds));
      if (r.BytesPerSecond() > best.BytesPerSecond()) {
        best = r;
        // Sender and receiver both: the process holds the two ends.
        AddCostPerGiB("process", before, after, r.bytes, &details);
      }
    }
    details["runs_mib_per_s"] = runs;
    report->baselines.push_back(Baseline{.name = k.name,
                                         .description = k.description,
                                         .value = MiBPerSecond(best.bytes, best.seconds),
                                         .unit = "MiB/s",
                                         .kind = "measured",
                                         .details = details});
  }
  return absl::OkStatus();
}

}  // namespace shuffle::bench
