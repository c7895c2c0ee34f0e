#include "shuffle-client/chunk_pool.h"

#include <utility>

namespace shuffle::client {

ChunkPool& ChunkPool::Shared() {
  // Leaked on purpose: readers may still return chunks while static destructors run.
  static ChunkPool* const pool = new ChunkPool(16u << 20);
  return *pool;
}

std::unique_ptr<FetchChunk> ChunkPool::Take() {
  {
    absl::MutexLock lock(&mu_);
    if (!chunks_.empty()) {
      std::unique_ptr<FetchChunk> chunk = std::move(chunks_.back());
      chunks_.pop_back();
      kept_bytes_ -= chunk->capacity();
      return chunk;
    }
  }
  return std::make_unique<FetchChunk>();
}

void ChunkPool::Give(std::unique_ptr<FetchChunk> chunk) {
  if (chunk == nullptr) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (kept_bytes_ + chunk->capacity() <= max_bytes_) {
    kept_bytes_ += chunk->capacity();
    chunks_.push_back(std::move(chunk));
  }
  // Otherwise `chunk` is freed on return, after the lock is released.
}

uint64_t ChunkPool::kept_bytes() const {
  absl::MutexLock lock(&mu_);
  return kept_bytes_;
}

}  // namespace shuffle::client
