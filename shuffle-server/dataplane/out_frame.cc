#include "shuffle-server/dataplane/out_frame.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "shuffle/core/errno_status.h"

namespace shuffle::dataplane {

OutFrame::OutFrame(std::string head, std::vector<storage::FileRange> ranges,
                   std::shared_ptr<const void> files)
    : bytes_(std::move(head)), ranges_(std::move(ranges)), files_(std::move(files)) {
  size_ = bytes_.size();
  for (const storage::FileRange& range : ranges_) {
    size_ += range.length;
  }
}

uint8_t OutFrame::type_byte() const {
  return bytes_.size() > 5 ? static_cast<uint8_t>(bytes_[5]) : 0;
}

absl::StatusOr<std::string> OutFrame::Flatten() const {
  std::string out = bytes_;
  for (const storage::FileRange& range : ranges_) {
    const size_t start = out.size();
    out.resize(start + range.length);
    uint64_t done = 0;
    while (done < range.length) {
      const ssize_t n = pread(range.fd, out.data() + start + done, range.length - done,
                              static_cast<off_t>(range.offset + done));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return core::ErrnoToStatus(errno, "pread", absl::StrCat("fd ", range.fd));
      }
      if (n == 0) {
        return absl::DataLossError(
            absl::StrCat("fd ", range.fd, " ends before offset ", range.offset + range.length));
      }
      done += static_cast<uint64_t>(n);
    }
  }
  return out;
}

}  // namespace shuffle::dataplane
