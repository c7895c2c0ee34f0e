// The block: the unit a map task pushes and a reducer verifies. A block holds the serialized
// records of one partition, optionally zstd- or LZ4-compressed, behind a fixed 32-byte header whose
// checksum covers the header fields and the stored bytes. The client writes the checksum; the
// reader checks it; the server may scrub it. Pure functions; safe from any thread (the
// Compressor/Decompressor passed in are not).
//
// Layout (little-endian):
//   0  u32 magic "SBLK"     4  u8 codec (Codec: 0 none, 1 zstd, 2 lz4)
//   5  u8 version (1)       6  u16 reserved (0)
//   8  u32 raw_size        12  u32 stored_size                  16  u32 record_count
//  20  u32 reserved (0)    24  u64 checksum of bytes [0, 24) followed by the stored bytes
//  32  stored bytes (stored_size of them)
#ifndef SHUFFLE_CORE_BLOCK_H_
#define SHUFFLE_CORE_BLOCK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/core/compression.h"

namespace shuffle::core {

using BlockCodec = Codec;

inline constexpr size_t kBlockHeaderSize = 32;
inline constexpr uint32_t kBlockMagic = 0x4b4c4253;  // "SBLK"
inline constexpr uint8_t kBlockVersion = 1;
// A block's raw and stored sizes are bounded so that a corrupt header cannot ask for gigabytes.
inline constexpr uint32_t kMaxBlockSize = 64u << 20;

struct BlockHeader {
  BlockCodec codec = BlockCodec::kNone;
  uint32_t raw_size = 0;
  uint32_t stored_size = 0;
  uint32_t record_count = 0;
  uint64_t checksum = 0;

  size_t encoded_size() const { return kBlockHeaderSize + stored_size; }
};

// Encodes `raw` (record_count records) as one block appended to `*out`. With a compressor the
// payload is compressed with its codec, unless that would not make it smaller, in which case it is
// stored raw. REQUIRES: raw.size() <= kMaxBlockSize.
absl::Status EncodeBlock(std::string_view raw, uint32_t record_count, Compressor* compressor,
                         std::string* out);

// Parses and sanity-checks the header at the front of `encoded` (magic, version, codec, sizes).
// Does not check the checksum. INVALID_ARGUMENT if fewer than kBlockHeaderSize bytes are given.
absl::StatusOr<BlockHeader> ParseBlockHeader(std::string_view encoded);

// Checks that `encoded` is exactly one well-formed block whose checksum matches. DATA_LOSS
// describes the first problem found.
absl::Status VerifyBlock(std::string_view encoded);

// Verifies `encoded` and appends its raw bytes to `*raw`. `decompressor` may be null only for
// blocks stored uncompressed.
absl::Status DecodeBlock(std::string_view encoded, Decompressor* decompressor, std::string* raw);

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_BLOCK_H_
