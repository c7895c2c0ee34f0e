// OutFrame: one response frame on its way to a client's socket. Its first part is in memory (a
// whole frame, or the prefix and header of a frame whose payload follows); the payload may then
// come from ranges of open files, which the connection sends with sendfile so that block bytes
// never pass through the server's user space (see storage/fetch_plan.h).
//
// A movable value, not thread-safe. It keeps the files' descriptors open (through `files`) until
// it is destroyed.
#ifndef SHUFFLE_SERVER_DATAPLANE_OUT_FRAME_H_
#define SHUFFLE_SERVER_DATAPLANE_OUT_FRAME_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle-server/storage/fetch_plan.h"

namespace shuffle::dataplane {

class OutFrame {
 public:
  // A frame held in memory entirely.
  explicit OutFrame(std::string bytes) : bytes_(std::move(bytes)), size_(bytes_.size()) {}
  // A frame whose payload is the bytes of `ranges`, back to back, after `head`; `files` keeps
  // their descriptors open.
  OutFrame(std::string head, std::vector<storage::FileRange> ranges,
           std::shared_ptr<const void> files);

  OutFrame(OutFrame&&) = default;
  OutFrame& operator=(OutFrame&&) = default;
  OutFrame(const OutFrame&) = delete;
  OutFrame& operator=(const OutFrame&) = delete;

  const std::string& bytes() const { return bytes_; }
  const std::vector<storage::FileRange>& ranges() const { return ranges_; }
  // The frame's length on the wire: bytes() and every range.
  uint64_t size() const { return size_; }
  // The frame type byte of the prefix (0 when bytes() is too short to hold one).
  uint8_t type_byte() const;

  // The whole frame in one string, the ranges read with pread: for tests and fuzzing. DATA_LOSS
  // when a file ends before a range does.
  absl::StatusOr<std::string> Flatten() const;

 private:
  std::string bytes_;
  std::vector<storage::FileRange> ranges_;
  std::shared_ptr<const void> files_;
  uint64_t size_ = 0;
};

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_OUT_FRAME_H_
