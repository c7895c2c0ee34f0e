// The checksums Spark writes next to its shuffle files (spark.shuffle.checksum.algorithm):
// ADLER32 and CRC32 (zlib's, as java.util.zip computes them) and CRC32C (Castagnoli, as
// java.util.zip.CRC32C). Used by corruption diagnosis only. Thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_CHECKSUMS_H_
#define SHUFFLE_SERVER_SPARKESS_CHECKSUMS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "shuffle-server/sparkess/block_files.h"

namespace shuffle::sparkess {

// A running checksum of one of Spark's algorithms; nullopt from Create for other names.
class SparkChecksum {
 public:
  static std::optional<SparkChecksum> Create(std::string_view algorithm);
  void Update(std::string_view bytes);
  // As Java's Checksum.getValue(): the 32-bit value, zero-extended.
  int64_t Value() const { return value_; }

 private:
  enum class Kind { kAdler32, kCrc32, kCrc32c };
  explicit SparkChecksum(Kind kind);
  Kind kind_;
  int64_t value_ = 0;
};

// The checksum of `segment`'s bytes (read with pread).
absl::StatusOr<int64_t> ChecksumOf(SparkChecksum checksum, const FileSegment& segment);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_CHECKSUMS_H_
