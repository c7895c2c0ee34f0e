// Block compression with reusable contexts: zstd (one ZSTD_CCtx / ZSTD_DCtx per object, kept
// across calls so that small blocks do not pay for context setup) or LZ4 (block format, no
// context). An object is not thread-safe; give each thread (or each writer) its own.
#ifndef SHUFFLE_CORE_COMPRESSION_H_
#define SHUFFLE_CORE_COMPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::core {

// How a block's bytes are stored. The values are the block header's codec byte (block.h).
enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };

// "none", "zstd", "lz4" (for messages).
std::string_view CodecName(Codec codec);

class Compressor {
 public:
  // codec: kZstd or kLz4. level, for zstd: its level (1 is fast; negative levels are faster
  // still, down to ZSTD_minCLevel). For LZ4: 1 is LZ4's default; a negative level -N is LZ4's
  // acceleration N (faster, larger output); other levels are refused.
  static absl::StatusOr<std::unique_ptr<Compressor>> Create(Codec codec, int level);
  static absl::StatusOr<std::unique_ptr<Compressor>> Create(int level = 1) {
    return Create(Codec::kZstd, level);
  }
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  Codec codec() const { return codec_; }

  // Appends the compressed form of `input` to `*output`.
  absl::Status Compress(std::string_view input, std::string* output);

 private:
  struct Context;
  Compressor(Codec codec, std::unique_ptr<Context> context);
  const Codec codec_;
  std::unique_ptr<Context> context_;
};

// Decompresses either codec; the zstd context is made on the first zstd input.
class Decompressor {
 public:
  static absl::StatusOr<std::unique_ptr<Decompressor>> Create();
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Decompresses `input`, stored with `codec` (kZstd or kLz4), which must expand to exactly
  // `expected_size` bytes, appending them to `*output`. Corrupt input or a size mismatch returns
  // DATA_LOSS; nothing is appended then.
  absl::Status Decompress(Codec codec, std::string_view input, size_t expected_size,
                          std::string* output);

 private:
  struct Context;
  explicit Decompressor(std::unique_ptr<Context> context);
  absl::Status DecompressZstd(std::string_view input, size_t expected_size, char* dst);
  std::unique_ptr<Context> context_;
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_COMPRESSION_H_
