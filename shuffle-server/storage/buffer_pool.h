// BufferPool: aligned write buffers kept for reuse, so the I/O thread's rounds do not allocate,
// fault in and free fresh memory for every extent (on a VM whose page faults are expensive that
// cost more than the copy into the buffer). Holds at most `max_bytes` of free buffers; Take
// returns the smallest free buffer that fits (and is at most twice the size asked for), else a
// new one. Buffers come back uninitialized: the caller overwrites what it uses.
//
// Thread-safety: none; one owner (the engine's I/O thread).
#ifndef SHUFFLE_SERVER_STORAGE_BUFFER_POOL_H_
#define SHUFFLE_SERVER_STORAGE_BUFFER_POOL_H_

#include <cstdint>
#include <vector>

#include "shuffle-server/storage/aligned_buffer.h"

namespace shuffle::storage {

class BufferPool {
 public:
  explicit BufferPool(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `size` bytes. REQUIRES: size is a multiple of kDirectIoAlignment.
  AlignedBuffer Take(uint64_t size);
  // Keeps `buffer` for a later Take while the pool holds less than max_bytes; frees it otherwise.
  void Give(AlignedBuffer buffer);

  uint64_t free_bytes() const { return free_bytes_; }
  uint64_t reused() const { return reused_; }        // Takes served from the pool
  uint64_t allocated() const { return allocated_; }  // Takes that allocated

 private:
  const uint64_t max_bytes_;
  std::vector<AlignedBuffer> free_;
  uint64_t free_bytes_ = 0;
  uint64_t reused_ = 0;
  uint64_t allocated_ = 0;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_BUFFER_POOL_H_
