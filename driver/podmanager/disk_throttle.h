// DiskThrottle: makes the disk under a directory slow for chosen processes, the way a failing or
// overloaded disk is: a blkio control group (cgroup v1) whose throttle caps reads and writes to
// that block device at a number of bytes per second. The kernel applies it to direct I/O, which
// is how the shuffle server writes and reads its data, so the server really waits on the disk.
//
// Needs root and the cgroup v1 blkio hierarchy at /sys/fs/cgroup/blkio; errors say so. The group
// is named after this process and the caller's name; the destructor moves any process still in
// it back to the root group and removes it. Thread-safe.
#ifndef SHUFFLE_DRIVER_PODMANAGER_DISK_THROTTLE_H_
#define SHUFFLE_DRIVER_PODMANAGER_DISK_THROTTLE_H_

#include <cstdint>
#include <memory>
#include <string>

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::podmanager {

class DiskThrottle {
 public:
  // Throttles the block device holding `dir` (the whole disk, when `dir` is on a partition).
  // FAILED_PRECONDITION when `dir` is on no block device (tmpfs, overlay) or blkio is missing.
  static absl::StatusOr<std::unique_ptr<DiskThrottle>> Create(const std::string& name,
                                                              const std::string& dir,
                                                              uint64_t bytes_per_second);
  ~DiskThrottle();
  DiskThrottle(const DiskThrottle&) = delete;
  DiskThrottle& operator=(const DiskThrottle&) = delete;

  // Puts a process (and the threads and children it starts from now on) under the throttle.
  absl::Status Add(pid_t pid);
  // Bytes the group's processes have read and written on the device (the kernel's count).
  absl::StatusOr<uint64_t> BytesThrough() const;
  // "MAJOR:MINOR" of the throttled device.
  const std::string& device() const { return device_; }

 private:
  DiskThrottle(std::string group, std::string device)
      : group_(std::move(group)), device_(std::move(device)) {}

  const std::string group_;  // the control group's directory
  const std::string device_;
};

}  // namespace shuffle::podmanager

#endif  // SHUFFLE_DRIVER_PODMANAGER_DISK_THROTTLE_H_
