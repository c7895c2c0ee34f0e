#include "shuffle-server/memory_reuse.h"

#include <malloc.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"

namespace shuffle::server {

absl::Status RetainFreedMemory(uint64_t retain_bytes) {
#if defined(SHUFFLE_SANITIZER_ASAN) || defined(SHUFFLE_SANITIZER_TSAN)
  (void)retain_bytes;
  return absl::FailedPreconditionError(
      "a sanitizer build: the sanitizer's allocator replaces glibc's and keeps its own pages");
#else
  const int trim = static_cast<int>(std::min<uint64_t>(retain_bytes, INT_MAX));
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapAllocationLimitBytes)) != 1) {
    return absl::InternalError("the allocator refused an mmap threshold of 32 MiB");
  }
  if (mallopt(M_TRIM_THRESHOLD, trim) != 1) {
    return absl::InternalError(absl::StrCat("the allocator refused a trim threshold of ", trim));
  }
  return absl::OkStatus();
#endif
}

}  // namespace shuffle::server
