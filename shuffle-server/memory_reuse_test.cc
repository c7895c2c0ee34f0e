#include "shuffle-server/memory_reuse.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include <sys/resource.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace shuffle::server {
namespace {

#if !defined(SHUFFLE_SANITIZER_ASAN) && !defined(SHUFFLE_SANITIZER_TSAN)
uint64_t MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_minflt);
}

// Allocates, fills and frees 16 buffers of 4 MiB: 64 MiB, what a burst of pushes holds.
void Burst() {
  std::vector<char*> buffers;
  for (int i = 0; i < 16; ++i) {
    char* p = static_cast<char*>(std::malloc(4 << 20));
    ASSERT_NE(p, nullptr);
    std::memset(p, i, 4 << 20);
    buffers.push_back(p);
  }
  for (char* p : buffers) {
    std::free(p);
  }
}
#endif

// The allocator's defaults would give the 4 MiB buffers back to the kernel (their own mmap, or
// a heap trimmed once 8 MiB lie free at its top) and fault in 16,384 pages again every burst.
TEST(MemoryReuseTest, LaterBurstsReuseThePagesOfTheFirst) {
#if defined(SHUFFLE_SANITIZER_ASAN) || defined(SHUFFLE_SANITIZER_TSAN)
  // The sanitizer's allocator stands in for glibc's: the setting is refused, and says why.
  const absl::Status refused = RetainFreedMemory(uint64_t{512} << 20);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("sanitizer"), absl::string_view::npos) << refused;
#else
  ASSERT_TRUE(RetainFreedMemory(uint64_t{512} << 20).ok());
  Burst();  // faults the pages in once
  const uint64_t before = MinorFaults();
  for (int i = 0; i < 4; ++i) {
    Burst();
  }
  // 4 bursts touch 65,536 pages; reused pages fault not at all (allow some for bookkeeping).
  EXPECT_LT(MinorFaults() - before, 2000u);
#endif
}

}  // namespace
}  // namespace shuffle::server
