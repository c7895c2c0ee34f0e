#include "shuffle/core/errno_status.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

TEST(ErrnoStatusTest, MapsCodesAndNamesTarget) {
  absl::Status st = ErrnoToStatus(ENOSPC, "write", "/data/seg-7");
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "write /data/seg-7: No space left on device");
  EXPECT_EQ(ErrnoToStatus(ENOENT, "open", "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToStatus(EACCES, "open", "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EIO, "read", "x").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ErrnoToStatus(ECONNREFUSED, "connect", "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoToStatus(EXDEV, "rename", "x").code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace shuffle::core
