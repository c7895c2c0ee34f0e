// How busy the rest of the machine was while a scenario ran: the machine's busy CPU time
// (/proc/stat, steal included) minus this process's and its reaped children's (getrusage). On a
// shared 2-core machine a concurrent build halves a figure; the report flags such scenarios
// instead of presenting their numbers as the service's. Functions; safe from any thread.
#ifndef SHUFFLE_BENCH_HARNESS_CPU_METER_H_
#define SHUFFLE_BENCH_HARNESS_CPU_METER_H_

#include <chrono>
#include <cstdint>

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace shuffle::bench {

struct CpuSample {
  std::chrono::steady_clock::time_point at;
  double machine_busy_seconds = 0;  // all CPUs, since boot
  double own_seconds = 0;           // this process and its reaped children
};

CpuSample SampleCpu();

struct CpuUse {
  double seconds = 0;      // wall time between the samples
  double own_cpu = 0;      // CPU seconds of this process and its children
  double other_cpu = 0;    // CPU seconds of everything else (>= 0)
  double other_share = 0;  // other_cpu / (seconds x cores)
};

CpuUse CpuBetween(const CpuSample& before, const CpuSample& after, unsigned cores);

// Waits, in half-second looks and at most `max_seconds`, until other processes use less than
// `share` of the CPUs. Returns the seconds waited; `quiet` says whether it got there.
double WaitForQuietMachine(unsigned cores, double max_seconds, double share, bool* quiet);

// One process's CPU time and page faults since it started (getrusage, or /proc/PID/stat for
// another process): the cost side of a figure, reported per GiB moved.
struct ResourceUse {
  double cpu_seconds = 0;  // user + system
  uint64_t minor_faults = 0;
  uint64_t major_faults = 0;
};

// This process (the harness and the client library it drives).
ResourceUse SelfUse();
// Another live process, e.g. a shuffle-server; NOT_FOUND once it is gone.
absl::StatusOr<ResourceUse> ProcessUse(pid_t pid);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_CPU_METER_H_
