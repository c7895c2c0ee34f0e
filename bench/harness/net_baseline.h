// The network baselines: one thread writing a large buffer in a loop into a connected stream
// socket and another reading it, over loopback TCP and over a Unix stream socket pair. What the
// kernel's socket path gives on this machine without any service in the way. Functions; each
// call uses its own sockets and threads.
#ifndef SHUFFLE_BENCH_HARNESS_NET_BASELINE_H_
#define SHUFFLE_BENCH_HARNESS_NET_BASELINE_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace shuffle::bench {

struct StreamResult {
  uint64_t bytes = 0;  // received
  double seconds = 0;
  double BytesPerSecond() const { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0; }
};

enum class StreamKind { kLoopbackTcp, kUnixStream };

// Streams for `seconds` with `buffer_bytes` per write and read.
absl::StatusOr<StreamResult> MeasureStream(StreamKind kind, double seconds, uint32_t buffer_bytes);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_NET_BASELINE_H_
