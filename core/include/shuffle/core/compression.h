// zstd compression with reusable contexts: one ZSTD_CCtx / ZSTD_DCtx per object, kept across
// calls so that small blocks do not pay for context setup. An object is not thread-safe; give each
// thread (or each writer) its own.
#ifndef SHUFFLE_CORE_COMPRESSION_H_
#define SHUFFLE_CORE_COMPRESSION_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::core {

class Compressor {
 public:
  // level: zstd level (1 is fast and the default for shuffle data; negative levels are faster).
  static absl::StatusOr<std::unique_ptr<Compressor>> Create(int level = 1);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Appends the compressed form of `input` to `*output`.
  absl::Status Compress(std::string_view input, std::string* output);

  static size_t MaxCompressedSize(size_t input_size);

 private:
  struct Context;
  explicit Compressor(std::unique_ptr<Context> context);
  std::unique_ptr<Context> context_;
};

class Decompressor {
 public:
  static absl::StatusOr<std::unique_ptr<Decompressor>> Create();
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Decompresses `input`, which must expand to exactly `expected_size` bytes, appending them to
  // `*output`. Corrupt input or a size mismatch returns DATA_LOSS; nothing is appended then.
  absl::Status Decompress(std::string_view input, size_t expected_size, std::string* output);

 private:
  struct Context;
  explicit Decompressor(std::unique_ptr<Context> context);
  std::unique_ptr<Context> context_;
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_COMPRESSION_H_
