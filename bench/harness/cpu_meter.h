// How busy the rest of the machine was while a scenario ran: the machine's busy CPU time
// (/proc/stat, steal included) minus this process's and its reaped children's (getrusage). On a
// shared 2-core machine a concurrent build halves a figure; the report flags such scenarios
// instead of presenting their numbers as the service's. Functions; safe from any thread.
#ifndef SHUFFLE_BENCH_HARNESS_CPU_METER_H_
#define SHUFFLE_BENCH_HARNESS_CPU_METER_H_

#include <chrono>

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

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_CPU_METER_H_
