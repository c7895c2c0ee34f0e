#include "shuffle/core/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace shuffle::core {

uint64_t Checksum64(const void* data, size_t size) { return XXH3_64bits(data, size); }

struct StreamingChecksum::State {
  XXH3_state_t xxh;
};

StreamingChecksum::StreamingChecksum() : state_(std::make_unique<State>()) { Reset(); }
StreamingChecksum::~StreamingChecksum() = default;

void StreamingChecksum::Update(const void* data, size_t size) {
  XXH3_64bits_update(&state_->xxh, data, size);
}

uint64_t StreamingChecksum::Digest() const { return XXH3_64bits_digest(&state_->xxh); }

void StreamingChecksum::Reset() { XXH3_64bits_reset(&state_->xxh); }

}  // namespace shuffle::core
