#include "driver/runner/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "driver/runner/job_runner.h"

namespace shuffle::runner {

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.2f %s", v, kUnits[unit]);
}

std::string ProgressLine(const scheduler::Progress& p, double seconds) {
  const char* stage = p.done ? "done" : p.map_stage_complete ? "reduce" : "map";
  std::string line = absl::StrFormat(
      "[%6.1fs] %-6s | map %u/%u (%u running) | reduce %u/%u (%u running) | executors %u | "
      "pushed %s, fetched %s | map runs %u",
      seconds, stage, p.maps_done, p.num_maps, p.maps_running, p.reduces_done, p.num_reduces,
      p.reduces_running, p.executors, FormatBytes(p.bytes_pushed), FormatBytes(p.bytes_fetched),
      p.map_attempts);
  if (p.executors_lost > 0 || p.fetch_failures > 0 || p.task_failures > 0) {
    absl::StrAppend(&line, " | lost executors ", p.executors_lost, ", fetch failures ",
                    p.fetch_failures, ", task failures ", p.task_failures);
  }
  return line;
}

ProgressDisplay::ProgressDisplay(bool enabled)
    : enabled_(enabled), tty_(isatty(STDOUT_FILENO) == 1) {}

void ProgressDisplay::Update(const scheduler::Progress& p, double seconds) {
  if (!enabled_) {
    return;
  }
  if (tty_) {
    std::printf("\r\033[K%s", ProgressLine(p, seconds).c_str());
    std::fflush(stdout);
  } else if (seconds - last_print_ >= 2.0) {
    last_print_ = seconds;
    std::printf("%s\n", ProgressLine(p, seconds).c_str());
    std::fflush(stdout);
  }
}

void ProgressDisplay::Finish(const scheduler::Progress& p, double seconds) {
  if (!enabled_) {
    return;
  }
  std::printf("%s%s\n", tty_ ? "\r\033[K" : "", ProgressLine(p, seconds).c_str());
  std::fflush(stdout);
}

int64_t JobReport::unexplained_map_runs() const {
  // Explained runs may not all happen: a job can end before a lost server's maps ran again
  // (every reduce that still needed them had already fetched their output).
  const int64_t extra = static_cast<int64_t>(progress.map_attempts) - job.num_maps();
  const int64_t explained = static_cast<int64_t>(
      progress.maps_requeued_for_lost_executors + progress.maps_rerun_for_lost_servers +
      progress.map_task_failures + progress.maps_rerun_for_lost_replicas);
  return std::max<int64_t>(0, extra - explained);
}

std::string JobReport::Render() const {
  const double mib = 1024.0 * 1024.0;
  std::string out = absl::StrFormat(
      "Job %s: %s of input, %u maps, %u partitions, %u nodes, %u executors x %u slots\n",
      job.kind(), FormatBytes(input_bytes), job.num_maps(), job.num_partitions(), nodes, executors,
      slots);
  absl::StrAppend(&out, "  result            ",
                  !status.ok()      ? "FAILED: " + status.ToString()
                  : validation.ok() ? std::string("SUCCEEDED, output validated")
                                    : "WRONG OUTPUT: " + validation.ToString(),
                  "\n");
  absl::StrAppend(&out,
                  absl::StrFormat("  map tasks run     %u (map partitions: %u)%s\n",
                                  progress.map_attempts, job.num_maps(),
                                  progress.map_attempts == job.num_maps()
                                      ? ", no map re-ran"
                                      : absl::StrFormat(", %u re-ran for lost servers",
                                                        progress.maps_rerun_for_lost_servers)));
  absl::StrAppend(&out, absl::StrFormat("  reduce tasks run  %u (partitions: %u)\n",
                                        progress.reduce_attempts, job.num_partitions()));
  absl::StrAppend(
      &out, absl::StrFormat("  executors         %u launched, %u evicted, %u failed, %u replaced, "
                            "%u released when idle; %u tasks re-queued from lost executors\n",
                            pods.launched, pods.evicted, pods.failed, pods.replaced, pods.released,
                            progress.tasks_requeued_for_lost_executors));
  absl::StrAppend(&out, absl::StrFormat("  failures          %u fetch, %u task (%u map); %u nodes "
                                        "avoided after failures\n",
                                        progress.fetch_failures, progress.task_failures,
                                        progress.map_task_failures, progress.nodes_excluded));
  if (!faults.empty() || progress.map_attempts != job.num_maps()) {
    absl::StrAppend(
        &out,
        absl::StrFormat("  map re-runs       %d for lost executors' running maps, %d for "
                        "lost servers, %d for lost replicas, %d after map failures, %d "
                        "unexplained\n",
                        progress.maps_requeued_for_lost_executors,
                        progress.maps_rerun_for_lost_servers, progress.maps_rerun_for_lost_replicas,
                        progress.map_task_failures, unexplained_map_runs()));
  }
  if (progress.maps_moved > 0) {
    absl::StrAppend(&out, absl::StrFormat("  hand-over         %u map outputs moved off draining "
                                          "nodes, served from their new places\n",
                                          progress.maps_moved));
  }
  if (progress.maps_adopted > 0) {
    absl::StrAppend(&out, absl::StrFormat("  adoption          %u map outputs of lost nodes served "
                                          "by the servers that adopted their data\n",
                                          progress.maps_adopted));
  }
  if (progress.maps_failed_over > 0 || progress.maps_without_replica > 0 ||
      progress.maps_rerun_for_lost_replicas > 0) {
    absl::StrAppend(
        &out,
        absl::StrFormat("  replicas          %u map outputs of lost servers served from their "
                        "replica; %u map attempts re-ran because their replica's server "
                        "failed while they wrote; %u had no other node's server for one\n",
                        progress.maps_failed_over, progress.maps_rerun_for_lost_replicas,
                        progress.maps_without_replica));
  }
  for (const auto& [code, error] : progress.last_error_by_code) {
    absl::StrAppend(&out, "  last ", code, " task error: ", error, "\n");
  }
  for (const std::string& fault : faults) {
    absl::StrAppend(&out, "  fault             ", fault, "\n");
  }
  absl::StrAppend(
      &out,
      absl::StrFormat("  shuffle           %s pushed in %.1f s (%.1f MiB/s), %s fetched in "
                      "%.1f s (%.1f MiB/s)\n",
                      FormatBytes(progress.bytes_pushed), map_seconds,
                      map_seconds > 0 ? progress.bytes_pushed / mib / map_seconds : 0.0,
                      FormatBytes(progress.bytes_fetched), reduce_seconds,
                      reduce_seconds > 0 ? progress.bytes_fetched / mib / reduce_seconds : 0.0));
  absl::StrAppend(&out, absl::StrFormat("  total time        %.1f s; %s freed on the servers\n",
                                        total_seconds, FormatBytes(freed_bytes)));
  return out;
}

}  // namespace shuffle::runner
