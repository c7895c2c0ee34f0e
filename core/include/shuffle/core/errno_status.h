// Conversion of errno values from system calls into absl::Status at the OS boundary.
// The code follows the errno's meaning (ENOSPC -> RESOURCE_EXHAUSTED, ENOENT -> NOT_FOUND, ...);
// the message names the failed operation and its target, then strerror().
#ifndef SHUFFLE_CORE_ERRNO_STATUS_H_
#define SHUFFLE_CORE_ERRNO_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace shuffle::core {

// REQUIRES: err != 0.
// Example: ErrnoToStatus(ENOSPC, "write", "/data/seg-7") ->
//   RESOURCE_EXHAUSTED "write /data/seg-7: No space left on device"
absl::Status ErrnoToStatus(int err, std::string_view operation, std::string_view target);

absl::StatusCode ErrnoToStatusCode(int err);

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_ERRNO_STATUS_H_
