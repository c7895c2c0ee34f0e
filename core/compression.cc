#include "shuffle/core/compression.h"

#include <zstd.h>

#include <climits>

#include <lz4.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZstd:
      return "zstd";
    case Codec::kLz4:
      return "lz4";
  }
  return "unknown";
}

struct Compressor::Context {
  ZSTD_CCtx* cctx = nullptr;  // zstd only
  int lz4_acceleration = 1;
  ~Context() { ZSTD_freeCCtx(cctx); }
};

absl::StatusOr<std::unique_ptr<Compressor>> Compressor::Create(Codec codec, int level) {
  auto context = std::make_unique<Context>();
  if (codec == Codec::kLz4) {
    if (level != 1 && level >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lz4 compression level ", level, ": 1 (LZ4's default) or negative (-N: acceleration N)"));
    }
    context->lz4_acceleration = level < 0 ? -level : 1;
    return std::unique_ptr<Compressor>(new Compressor(codec, std::move(context)));
  }
  if (codec != Codec::kZstd) {
    return absl::InvalidArgumentError(
        absl::StrCat("a compressor is zstd or lz4, not ", ToAbsl(CodecName(codec))));
  }
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return absl::InvalidArgumentError(absl::StrCat("zstd compression level ", level,
                                                   " out of range [", ZSTD_minCLevel(), ", ",
                                                   ZSTD_maxCLevel(), "]"));
  }
  context->cctx = ZSTD_createCCtx();
  if (context->cctx == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot allocate a compression context");
  }
  size_t rc = ZSTD_CCtx_setParameter(context->cctx, ZSTD_c_compressionLevel, level);
  if (ZSTD_isError(rc)) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd: compression level ", level, " rejected: ", ZSTD_getErrorName(rc)));
  }
  return std::unique_ptr<Compressor>(new Compressor(codec, std::move(context)));
}

Compressor::Compressor(Codec codec, std::unique_ptr<Context> context)
    : codec_(codec), context_(std::move(context)) {}
Compressor::~Compressor() = default;

absl::Status Compressor::Compress(std::string_view input, std::string* output) {
  const size_t old_size = output->size();
  if (codec_ == Codec::kLz4) {
    if (input.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
      return absl::InvalidArgumentError(
          absl::StrCat("lz4: input of ", input.size(), " bytes is too large"));
    }
    const int bound = LZ4_compressBound(static_cast<int>(input.size()));
    output->resize(old_size + bound);
    const int n =
        LZ4_compress_fast(input.data(), output->data() + old_size, static_cast<int>(input.size()),
                          bound, context_->lz4_acceleration);
    if (n <= 0 && !input.empty()) {
      output->resize(old_size);
      return absl::InternalError("lz4 compression failed");
    }
    output->resize(old_size + n);
    return absl::OkStatus();
  }
  output->resize(old_size + ZSTD_compressBound(input.size()));
  size_t rc = ZSTD_compress2(context_->cctx, output->data() + old_size, output->size() - old_size,
                             input.data(), input.size());
  if (ZSTD_isError(rc)) {
    output->resize(old_size);
    return absl::InternalError(absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(rc)));
  }
  output->resize(old_size + rc);
  return absl::OkStatus();
}

struct Decompressor::Context {
  ZSTD_DCtx* dctx = nullptr;
  ~Context() { ZSTD_freeDCtx(dctx); }
};

absl::StatusOr<std::unique_ptr<Decompressor>> Decompressor::Create() {
  return std::unique_ptr<Decompressor>(new Decompressor(std::make_unique<Context>()));
}

Decompressor::Decompressor(std::unique_ptr<Context> context) : context_(std::move(context)) {}
Decompressor::~Decompressor() = default;

absl::Status Decompressor::Decompress(Codec codec, std::string_view input, size_t expected_size,
                                      std::string* output) {
  if (codec != Codec::kZstd && codec != Codec::kLz4) {
    return absl::DataLossError(absl::StrCat("cannot decompress codec ", ToAbsl(CodecName(codec))));
  }
  const size_t old_size = output->size();
  output->resize(old_size + expected_size);
  char* dst = output->data() + old_size;
  absl::Status st;
  if (codec == Codec::kLz4) {
    const int n = input.size() > INT_MAX || expected_size > INT_MAX
                      ? -1
                      : LZ4_decompress_safe(input.data(), dst, static_cast<int>(input.size()),
                                            static_cast<int>(expected_size));
    if (n < 0) {
      st = absl::DataLossError("lz4: corrupt input");
    } else if (static_cast<size_t>(n) != expected_size) {
      st = absl::DataLossError(
          absl::StrCat("lz4: decompressed ", n, " bytes, expected ", expected_size));
    }
  } else {
    st = DecompressZstd(input, expected_size, dst);
  }
  if (!st.ok()) {
    output->resize(old_size);
  }
  return st;
}

absl::Status Decompressor::DecompressZstd(std::string_view input, size_t expected_size, char* dst) {
  unsigned long long frame_size = ZSTD_getFrameContentSize(input.data(), input.size());
  if (frame_size == ZSTD_CONTENTSIZE_ERROR) {
    return absl::DataLossError("zstd: input is not a zstd frame");
  }
  if (frame_size != ZSTD_CONTENTSIZE_UNKNOWN && frame_size != expected_size) {
    return absl::DataLossError(
        absl::StrCat("zstd: frame declares ", frame_size, " bytes, expected ", expected_size));
  }
  if (context_->dctx == nullptr) {
    context_->dctx = ZSTD_createDCtx();
    if (context_->dctx == nullptr) {
      return absl::ResourceExhaustedError("zstd: cannot allocate a decompression context");
    }
  }
  size_t rc = ZSTD_decompressDCtx(context_->dctx, dst, expected_size, input.data(), input.size());
  if (ZSTD_isError(rc)) {
    return absl::DataLossError(absl::StrCat("zstd decompression failed: ", ZSTD_getErrorName(rc)));
  }
  if (rc != expected_size) {
    return absl::DataLossError(
        absl::StrCat("zstd: decompressed ", rc, " bytes, expected ", expected_size));
  }
  return absl::OkStatus();
}

}  // namespace shuffle::core
