#include "shuffle/core/compression.h"

#include <zstd.h>

#include "absl/strings/str_cat.h"

namespace shuffle::core {

struct Compressor::Context {
  ZSTD_CCtx* cctx = nullptr;
  ~Context() { ZSTD_freeCCtx(cctx); }
};

absl::StatusOr<std::unique_ptr<Compressor>> Compressor::Create(int level) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return absl::InvalidArgumentError(absl::StrCat("zstd compression level ", level,
                                                   " out of range [", ZSTD_minCLevel(), ", ",
                                                   ZSTD_maxCLevel(), "]"));
  }
  auto context = std::make_unique<Context>();
  context->cctx = ZSTD_createCCtx();
  if (context->cctx == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot allocate a compression context");
  }
  size_t rc = ZSTD_CCtx_setParameter(context->cctx, ZSTD_c_compressionLevel, level);
  if (ZSTD_isError(rc)) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd: compression level ", level, " rejected: ", ZSTD_getErrorName(rc)));
  }
  return std::unique_ptr<Compressor>(new Compressor(std::move(context)));
}

Compressor::Compressor(std::unique_ptr<Context> context) : context_(std::move(context)) {}
Compressor::~Compressor() = default;

size_t Compressor::MaxCompressedSize(size_t input_size) { return ZSTD_compressBound(input_size); }

absl::Status Compressor::Compress(std::string_view input, std::string* output) {
  const size_t old_size = output->size();
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
  auto context = std::make_unique<Context>();
  context->dctx = ZSTD_createDCtx();
  if (context->dctx == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot allocate a decompression context");
  }
  return std::unique_ptr<Decompressor>(new Decompressor(std::move(context)));
}

Decompressor::Decompressor(std::unique_ptr<Context> context) : context_(std::move(context)) {}
Decompressor::~Decompressor() = default;

absl::Status Decompressor::Decompress(std::string_view input, size_t expected_size,
                                      std::string* output) {
  unsigned long long frame_size = ZSTD_getFrameContentSize(input.data(), input.size());
  if (frame_size == ZSTD_CONTENTSIZE_ERROR) {
    return absl::DataLossError("zstd: input is not a zstd frame");
  }
  if (frame_size != ZSTD_CONTENTSIZE_UNKNOWN && frame_size != expected_size) {
    return absl::DataLossError(
        absl::StrCat("zstd: frame declares ", frame_size, " bytes, expected ", expected_size));
  }
  const size_t old_size = output->size();
  output->resize(old_size + expected_size);
  size_t rc = ZSTD_decompressDCtx(context_->dctx, output->data() + old_size, expected_size,
                                  input.data(), input.size());
  if (ZSTD_isError(rc) || rc != expected_size) {
    output->resize(old_size);
    return absl::DataLossError(
        ZSTD_isError(rc)
            ? absl::StrCat("zstd decompression failed: ", ZSTD_getErrorName(rc))
            : absl::StrCat("zstd: decompressed ", rc, " bytes, expected ", expected_size));
  }
  return absl::OkStatus();
}

}  // namespace shuffle::core
