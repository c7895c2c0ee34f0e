// The machine's own limits, measured first in every run.
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
  const DirectIoSpec spec{.path = dir + "/direct.dat",
                          .bytes = p.disk_bytes,
                          .chunk_bytes = p.disk_chunk_bytes,
                          .queue_depth = p.disk_queue_depth};
  // The file goes whatever happens.
  struct Remove {
    std::string path;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } remove{spec.path};
  SHUFFLE_ASSIGN_OR_RETURN(DirectIoResult write, DirectWrite(spec));
  const bool dropped = DropPageCache();
  SHUFFLE_ASSIGN_OR_RETURN(DirectIoResult read, DirectRead(spec));
  const nlohmann::json details = {{"bytes", spec.bytes},
                                  {"chunk_bytes", spec.chunk_bytes},
                                  {"queue_depth", spec.queue_depth},
                                  {"o_direct", true},
                                  {"engine", "io_uring (liburing)"},
                                  {"page_cache_dropped_before_read", dropped}};
  nlohmann::json write_details = details;
  write_details["includes_fdatasync"] = true;
  write_details["seconds"] = write.seconds;
  report->baselines.push_back(Baseline{
      .name = "disk_write",
      .description = "raw io_uring sequential O_DIRECT write of a new file, then fdatasync",
      .value = MiBPerSecond(write.bytes, write.seconds),
      .unit = "MiB/s",
      .kind = "measured",
      .details = write_details});
  nlohmann::json read_details = details;
  read_details["seconds"] = read.seconds;
  report->baselines.push_back(
      Baseline{.name = "disk_read",
               .description = "raw io_uring sequential O_DIRECT read of the same file",
               .value = MiBPerSecond(read.bytes, read.seconds),
               .unit = "MiB/s",
               .kind = "measured",
               .details = read_details});
  return absl::OkStatus();
}

absl::Status RunNetBaselines(const ScenarioContext& ctx, Report* report) {
  const double seconds = ctx.options->profile.net_seconds;
  SHUFFLE_ASSIGN_OR_RETURN(StreamResult tcp,
                           MeasureStream(StreamKind::kLoopbackTcp, seconds, kStreamBufferBytes));
  SHUFFLE_ASSIGN_OR_RETURN(StreamResult unix_stream,
                           MeasureStream(StreamKind::kUnixStream, seconds, kStreamBufferBytes));
  report->baselines.push_back(Baseline{
      .name = "tcp_loopback",
      .description = "one thread sending 1 MiB writes over loopback TCP, another receiving",
      .value = MiBPerSecond(tcp.bytes, tcp.seconds),
      .unit = "MiB/s",
      .kind = "measured",
      .details = {{"bytes", tcp.bytes}, {"seconds", tcp.seconds}, {"buffer_bytes", 1 << 20}}});
  report->baselines.push_back(
      Baseline{.name = "unix_stream",
               .description = "the same over a Unix stream socket pair",
               .value = MiBPerSecond(unix_stream.bytes, unix_stream.seconds),
               .unit = "MiB/s",
               .kind = "measured",
               .details = {{"bytes", unix_stream.bytes},
                           {"seconds", unix_stream.seconds},
                           {"buffer_bytes", 1 << 20}}});
  return absl::OkStatus();
}

}  // namespace shuffle::bench
