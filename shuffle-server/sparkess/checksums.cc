#include "shuffle-server/sparkess/checksums.h"

#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <string>

#include "shuffle/core/errno_status.h"

namespace shuffle::sparkess {
namespace {

// Reflected CRC-32C (polynomial 0x82F63B78), byte at a time: diagnosis reads one partition
// once, so speed does not matter here.
const std::array<uint32_t, 256>& Crc32cTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      }
      t[i] = c;
    }
    return t;
  }();
  return table;
}

}  // namespace

SparkChecksum::SparkChecksum(Kind kind) : kind_(kind) {
  value_ = kind == Kind::kAdler32 ? static_cast<int64_t>(adler32(0L, Z_NULL, 0)) : 0;
}

std::optional<SparkChecksum> SparkChecksum::Create(std::string_view algorithm) {
  if (algorithm == "ADLER32") {
    return SparkChecksum(Kind::kAdler32);
  }
  if (algorithm == "CRC32") {
    return SparkChecksum(Kind::kCrc32);
  }
  if (algorithm == "CRC32C") {
    return SparkChecksum(Kind::kCrc32c);
  }
  return std::nullopt;
}

void SparkChecksum::Update(std::string_view bytes) {
  const auto* data = reinterpret_cast<const Bytef*>(bytes.data());
  switch (kind_) {
    case Kind::kAdler32:
      value_ = static_cast<int64_t>(
          adler32(static_cast<uLong>(value_), data, static_cast<uInt>(bytes.size())));
      break;
    case Kind::kCrc32:
      value_ = static_cast<int64_t>(
          crc32(static_cast<uLong>(value_), data, static_cast<uInt>(bytes.size())));
      break;
    case Kind::kCrc32c: {
      uint32_t c = ~static_cast<uint32_t>(value_);
      for (unsigned char b : bytes) {
        c = Crc32cTable()[(c ^ b) & 0xff] ^ (c >> 8);
      }
      const uint32_t crc = ~c;
      value_ = static_cast<int64_t>(crc);
      break;
    }
  }
}

absl::StatusOr<int64_t> ChecksumOf(SparkChecksum checksum, const FileSegment& segment) {
  std::string buf(1 << 16, '\0');
  uint64_t done = 0;
  while (done < segment.length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), segment.length - done));
    const ssize_t n =
        ::pread(segment.file->fd(), buf.data(), want, static_cast<off_t>(segment.offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return core::ErrnoToStatus(n < 0 ? errno : EIO, "pread", segment.file->path());
    }
    checksum.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    done += static_cast<uint64_t>(n);
  }
  return checksum.Value();
}

}  // namespace shuffle::sparkess
