#include "shuffle/core/block.h"

#include "absl/strings/str_cat.h"
#include "shuffle/core/checksum.h"
#include "shuffle/core/coding.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::core {
namespace {

uint64_t BlockChecksum(const char* header, std::string_view stored) {
  StreamingChecksum checksum;
  checksum.Update(header, 24);
  checksum.Update(stored);
  return checksum.Digest();
}

void WriteHeader(const BlockHeader& h, char* dst) {
  EncodeFixed32(dst, kBlockMagic);
  dst[4] = static_cast<char>(h.codec);
  dst[5] = static_cast<char>(kBlockVersion);
  EncodeFixed16(dst + 6, 0);
  EncodeFixed32(dst + 8, h.raw_size);
  EncodeFixed32(dst + 12, h.stored_size);
  EncodeFixed32(dst + 16, h.record_count);
  EncodeFixed32(dst + 20, 0);
  EncodeFixed64(dst + 24, h.checksum);
}

}  // namespace

absl::Status EncodeBlock(std::string_view raw, uint32_t record_count, Compressor* compressor,
                         std::string* out) {
  if (raw.size() > kMaxBlockSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("block of ", raw.size(), " bytes exceeds the maximum of ", kMaxBlockSize));
  }
  const size_t start = out->size();
  out->resize(start + kBlockHeaderSize);
  BlockHeader header;
  header.raw_size = static_cast<uint32_t>(raw.size());
  header.record_count = record_count;
  header.codec = BlockCodec::kNone;
  if (compressor != nullptr && !raw.empty()) {
    SHUFFLE_RETURN_IF_ERROR(compressor->Compress(raw, out));
    size_t compressed = out->size() - start - kBlockHeaderSize;
    if (compressed < raw.size()) {
      header.codec = compressor->codec();
    } else {
      out->resize(start + kBlockHeaderSize);
    }
  }
  if (header.codec == BlockCodec::kNone) {
    out->append(raw);
  }
  header.stored_size = static_cast<uint32_t>(out->size() - start - kBlockHeaderSize);
  char* dst = out->data() + start;
  WriteHeader(header, dst);
  header.checksum =
      BlockChecksum(dst, std::string_view(dst + kBlockHeaderSize, header.stored_size));
  EncodeFixed64(dst + 24, header.checksum);
  return absl::OkStatus();
}

absl::StatusOr<BlockHeader> ParseBlockHeader(std::string_view encoded) {
  if (encoded.size() < kBlockHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat("block truncated: ", encoded.size(),
                                                   " bytes, header needs ", kBlockHeaderSize));
  }
  const char* p = encoded.data();
  if (DecodeFixed32(p) != kBlockMagic) {
    return absl::DataLossError(absl::StrCat("bad block magic 0x", absl::Hex(DecodeFixed32(p))));
  }
  if (static_cast<uint8_t>(p[5]) != kBlockVersion) {
    return absl::DataLossError(
        absl::StrCat("unsupported block version ", static_cast<int>(static_cast<uint8_t>(p[5]))));
  }
  BlockHeader h;
  const auto codec = static_cast<uint8_t>(p[4]);
  if (codec > static_cast<uint8_t>(BlockCodec::kLz4)) {
    return absl::DataLossError(absl::StrCat("unknown block codec ", codec));
  }
  h.codec = static_cast<BlockCodec>(codec);
  h.raw_size = DecodeFixed32(p + 8);
  h.stored_size = DecodeFixed32(p + 12);
  h.record_count = DecodeFixed32(p + 16);
  h.checksum = DecodeFixed64(p + 24);
  if (h.raw_size > kMaxBlockSize || h.stored_size > kMaxBlockSize) {
    return absl::DataLossError(
        absl::StrCat("block sizes out of range: raw ", h.raw_size, ", stored ", h.stored_size));
  }
  if (h.codec == BlockCodec::kNone && h.raw_size != h.stored_size) {
    return absl::DataLossError(absl::StrCat("uncompressed block with raw size ", h.raw_size,
                                            " != stored size ", h.stored_size));
  }
  return h;
}

absl::Status VerifyBlock(std::string_view encoded) {
  SHUFFLE_ASSIGN_OR_RETURN(BlockHeader h, ParseBlockHeader(encoded));
  if (encoded.size() != h.encoded_size()) {
    return absl::DataLossError(absl::StrCat("block length ", encoded.size(),
                                            " does not match its header (", h.encoded_size(), ")"));
  }
  uint64_t computed = BlockChecksum(encoded.data(), encoded.substr(kBlockHeaderSize));
  if (computed != h.checksum) {
    return absl::DataLossError(absl::StrCat("block checksum mismatch: stored ",
                                            absl::Hex(h.checksum, absl::kZeroPad16), ", computed ",
                                            absl::Hex(computed, absl::kZeroPad16)));
  }
  return absl::OkStatus();
}

absl::Status DecodeBlock(std::string_view encoded, Decompressor* decompressor, std::string* raw) {
  SHUFFLE_RETURN_IF_ERROR(VerifyBlock(encoded));
  SHUFFLE_ASSIGN_OR_RETURN(BlockHeader h, ParseBlockHeader(encoded));
  std::string_view stored = encoded.substr(kBlockHeaderSize);
  if (h.codec == BlockCodec::kNone) {
    raw->append(stored);
    return absl::OkStatus();
  }
  if (decompressor == nullptr) {
    return absl::FailedPreconditionError("compressed block but no decompressor given");
  }
  return decompressor->Decompress(h.codec, stored, h.raw_size, raw);
}

}  // namespace shuffle::core
