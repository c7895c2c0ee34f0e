#include "bench/harness/cpu_meter.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/files.h"

namespace shuffle::bench {
namespace {

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

// The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal ...".
double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (!in || cpu != "cpu") {
    return 0;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (user + nice + system + irq + softirq + steal) / (ticks > 0 ? ticks : 100);
}

}  // namespace

CpuSample SampleCpu() {
  CpuSample sample;
  sample.at = std::chrono::steady_clock::now();
  sample.machine_busy_seconds = MachineBusySeconds();
  rusage self{};
  rusage children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  sample.own_seconds = Seconds(self.ru_utime) + Seconds(self.ru_stime) +
                       Seconds(children.ru_utime) + Seconds(children.ru_stime);
  return sample;
}

CpuUse CpuBetween(const CpuSample& before, const CpuSample& after, unsigned cores) {
  CpuUse use;
  use.seconds = std::chrono::duration<double>(after.at - before.at).count();
  use.own_cpu = after.own_seconds - before.own_seconds;
  const double busy = after.machine_busy_seconds - before.machine_busy_seconds;
  use.other_cpu = std::max(0.0, busy - use.own_cpu);
  const double capacity = use.seconds * std::max(1u, cores);
  use.other_share = capacity > 0 ? use.other_cpu / capacity : 0;
  return use;
}

double WaitForQuietMachine(unsigned cores, double max_seconds, double share, bool* quiet) {
  constexpr auto kLook = std::chrono::milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  const int looks = static_cast<int>(max_seconds / 0.5);
  *quiet = false;
  for (int i = 0; i < looks && !*quiet; ++i) {
    const CpuSample before = SampleCpu();
    std::this_thread::sleep_for(kLook);
    *quiet = CpuBetween(before, SampleCpu(), cores).other_share < share;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

ResourceUse SelfUse() {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  return ResourceUse{.cpu_seconds = Seconds(self.ru_utime) + Seconds(self.ru_stime),
                     .minor_faults = static_cast<uint64_t>(self.ru_minflt),
                     .major_faults = static_cast<uint64_t>(self.ru_majflt)};
}

absl::StatusOr<ResourceUse> ProcessUse(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  absl::StatusOr<std::string> stat = core::ReadFileToString(path);
  if (!stat.ok()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", stat.status().message()));
  }
  // "pid (comm) state ppid ...": the command may hold spaces and parentheses; the fields after
  // its last ')' start with field 3 (state). minflt is field 10, majflt 12, utime 14, stime 15.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) {
    return absl::DataLossError(absl::StrCat(path, " has no command field"));
  }
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
  uint64_t minflt = 0, majflt = 0, utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[7], &minflt) ||
      !absl::SimpleAtoi(fields[9], &majflt) || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::DataLossError(absl::StrCat(path, " is not in the expected format"));
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return ResourceUse{.cpu_seconds = static_cast<double>(utime + stime) / (ticks > 0 ? ticks : 100),
                     .minor_faults = minflt,
                     .major_faults = majflt};
}

}  // namespace shuffle::bench
