// ChunkPool: FetchChunks, with their buffers, kept between fetches. A reduce task opens one
// reader per partition range, and an executor runs many tasks: without a pool every reader would
// allocate its frame buffers afresh, and the kernel would fault in (and zero) every page of them
// again for each fetch. Bounded: chunks are kept while their buffers' capacity totals at most
// max_bytes; the rest are freed.
//
// Thread-safe.
#ifndef SHUFFLE_CLIENT_CHUNK_POOL_H_
#define SHUFFLE_CLIENT_CHUNK_POOL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-client/fetch_chunk.h"

namespace shuffle::client {

class ChunkPool {
 public:
  explicit ChunkPool(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  // The process's pool, shared by every reader: 16 MiB, sixteen of the server's default
  // 1 MiB frames, enough for a few readers at once. Never destroyed.
  static ChunkPool& Shared();

  // A kept chunk (its contents stale), or a new one.
  std::unique_ptr<FetchChunk> Take();
  // Keeps `chunk` if it fits, else frees it. Null is ignored.
  void Give(std::unique_ptr<FetchChunk> chunk);

  uint64_t kept_bytes() const;

 private:
  const uint64_t max_bytes_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FetchChunk>> chunks_ ABSL_GUARDED_BY(mu_);
  uint64_t kept_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_CHUNK_POOL_H_
