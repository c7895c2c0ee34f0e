// The disk baselines: raw sequential io_uring writes and reads of one file opened with O_DIRECT,
// in large aligned chunks with several operations in flight: what the disk under the server's
// data directory gives without any service in the way. Functions; each call uses its own ring
// and is safe to run from any thread (one at a time on a disk, or they measure each other).
#ifndef SHUFFLE_BENCH_HARNESS_DISK_BASELINE_H_
#define SHUFFLE_BENCH_HARNESS_DISK_BASELINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace shuffle::bench {

struct DirectIoSpec {
  std::string path;          // the file written, then read
  uint64_t bytes = 0;        // REQUIRES: a multiple of chunk_bytes
  uint32_t chunk_bytes = 0;  // REQUIRES: a multiple of 4096
  uint32_t queue_depth = 0;  // operations in flight
  // Write: reserve the whole file with fallocate first (timed too), so that the writes neither
  // allocate blocks nor extend the file, as the server's segment writes.
  bool preallocate = false;
};

struct DirectIoResult {
  uint64_t bytes = 0;
  double seconds = 0;
  double BytesPerSecond() const { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0; }
};

// Creates (truncates) spec.path and writes it sequentially; the time includes the final
// fdatasync, as a durable commit's does, and the fallocate when spec.preallocate.
absl::StatusOr<DirectIoResult> DirectWrite(const DirectIoSpec& spec);

// Reads spec.path sequentially (written by DirectWrite).
absl::StatusOr<DirectIoResult> DirectRead(const DirectIoSpec& spec);

// Writes back dirty pages and drops the page cache (needs root). false when not permitted.
bool DropPageCache();

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_DISK_BASELINE_H_
