// A heap buffer aligned for O_DIRECT I/O (kDirectIoAlignment), zero-filled unless made with
// Uninitialized (for a buffer about to be overwritten whole). Move-only; not thread-safe.
#ifndef SHUFFLE_SERVER_STORAGE_ALIGNED_BUFFER_H_
#define SHUFFLE_SERVER_STORAGE_ALIGNED_BUFFER_H_

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "shuffle-server/storage/env.h"

namespace shuffle::storage {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // REQUIRES: size is a multiple of kDirectIoAlignment.
  explicit AlignedBuffer(size_t size) : AlignedBuffer(size, /*zero=*/true) {}
  // REQUIRES: as above. Its bytes are whatever the allocator had there.
  static AlignedBuffer Uninitialized(size_t size) { return AlignedBuffer(size, /*zero=*/false); }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  AlignedBuffer(size_t size, bool zero) : size_(size) {
    if (size == 0) {
      return;
    }
    data_ = static_cast<char*>(std::aligned_alloc(kDirectIoAlignment, size));
    if (data_ == nullptr) {
      throw std::bad_alloc();  // out of memory is fatal, as for any allocation
    }
    if (zero) {
      std::memset(data_, 0, size);
    }
  }

  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_ALIGNED_BUFFER_H_
