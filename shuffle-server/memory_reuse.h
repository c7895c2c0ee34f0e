// How the daemon's freed memory is reused. glibc's allocator gives large blocks (above a
// threshold that starts at 128 KiB) their own mmap and hands the top of a heap back to the kernel
// once more than twice that is free there: a server receiving 1 MiB payloads, copying them into
// blocks and writing them out then faults in fresh pages for most of the bytes it ingests (on a
// VM whose page faults are expensive, a large share of the CPU). RetainFreedMemory keeps
// allocations of up to 32 MiB in the heaps and freed memory in the process up to the bytes the
// configuration lets the server hold anyway (its memory budget and its request-buffer budget),
// so the next request reuses pages already faulted in.
#ifndef SHUFFLE_SERVER_MEMORY_REUSE_H_
#define SHUFFLE_SERVER_MEMORY_REUSE_H_

#include <cstdint>

#include "absl/status/status.h"

namespace shuffle::server {

// Largest allocation served from the heaps rather than its own mmap (glibc's maximum).
inline constexpr uint64_t kHeapAllocationLimitBytes = uint64_t{32} << 20;

// Sets the allocator's mmap and trim thresholds; call once at start, before other threads
// allocate. INTERNAL if the allocator refuses (it keeps its defaults then); FAILED_PRECONDITION in
// a sanitizer build, whose allocator replaces glibc's and has no such thresholds.
absl::Status RetainFreedMemory(uint64_t retain_bytes);

}  // namespace shuffle::server

#endif  // SHUFFLE_SERVER_MEMORY_REUSE_H_
