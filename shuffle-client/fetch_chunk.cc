#include "shuffle-client/fetch_chunk.h"

#include "absl/strings/str_cat.h"
#include "shuffle/core/block.h"

namespace shuffle::client {
namespace {

absl::Status Corrupt(const BlockSource& source, const proto::BlockOrigin& origin,
                     const absl::Status& st) {
  return absl::DataLossError(
      absl::StrCat("corrupt block: shuffle ", source.shuffle, " map ", origin.map_id(), " attempt ",
                   origin.attempt(), " partition ", origin.partition_id(), " block ", origin.seq(),
                   " from server ", source.server, ": ", st.message()));
}

}  // namespace

absl::Status DecodeFetchData(const proto::FetchData& data, const BlockSource& source,
                             BlockTracker* tracker, core::Decompressor* decompressor,
                             FetchChunk* chunk) {
  chunk->blocks_.clear();
  chunk->decompressed_.clear();
  chunk->raw_bytes_ = 0;
  chunk->encoded_bytes_ = 0;
  const std::string_view payload = chunk->payload_.view();
  size_t at = 0;
  for (const proto::BlockOrigin& origin : data.blocks()) {
    if (origin.length() > payload.size() - at) {
      return absl::DataLossError(
          absl::StrCat("FetchData from ", source.server, " lists more bytes than it carries"));
    }
    const std::string_view encoded = payload.substr(at, origin.length());
    const size_t offset = at;
    at += origin.length();
    const BlockTracker::Slot slot = tracker->Find(origin.map_id(), origin.attempt());
    if (slot == BlockTracker::kUnknown || tracker->Delivered(slot, origin.seq())) {
      continue;  // not an attempt the driver knows of, or already received before a retry
    }
    if (absl::Status st = core::VerifyBlock(encoded); !st.ok()) {
      return Corrupt(source, origin, st);
    }
    // Verified: the header parses.
    const core::BlockHeader header = *core::ParseBlockHeader(encoded);
    FetchChunk::BlockRef ref{
        .decompressed = false, .offset = offset + core::kBlockHeaderSize, .size = header.raw_size};
    if (header.codec != core::BlockCodec::kNone) {
      if (decompressor == nullptr) {
        return Corrupt(source, origin,
                       absl::FailedPreconditionError("compressed block but no decompressor"));
      }
      ref.decompressed = true;
      ref.offset = chunk->decompressed_.size();
      absl::Status st =
          decompressor->Decompress(header.codec, encoded.substr(core::kBlockHeaderSize),
                                   header.raw_size, &chunk->decompressed_);
      if (!st.ok()) {
        return Corrupt(source, origin, st);
      }
    }
    tracker->MarkDelivered(slot, origin.seq());
    chunk->blocks_.push_back(ref);
    chunk->raw_bytes_ += header.raw_size;
    chunk->encoded_bytes_ += origin.length();
  }
  return absl::OkStatus();
}

}  // namespace shuffle::client
