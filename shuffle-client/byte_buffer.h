// ByteBuffer: a reusable byte buffer that grows without zero-filling, for frame payloads that are
// received straight from the socket and handed between threads. Unlike std::string, resizing it
// neither writes the new bytes nor keeps the old ones when it has to grow: the caller overwrites
// them anyway. A value type (movable, not copyable); not thread-safe.
#ifndef SHUFFLE_CLIENT_BYTE_BUFFER_H_
#define SHUFFLE_CLIENT_BYTE_BUFFER_H_

#include <cstddef>
#include <memory>
#include <string_view>

namespace shuffle::client {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&&) = default;
  ByteBuffer& operator=(ByteBuffer&&) = default;

  // Makes size() == n. The contents are unspecified afterwards: the caller fills them.
  void ResizeUninitialized(size_t n) {
    if (n > capacity_) {
      // Grow by half again at least, so that a buffer reused for frames of varying sizes
      // settles after a few frames.
      const size_t capacity = n > capacity_ + capacity_ / 2 ? n : capacity_ + capacity_ / 2;
      data_.reset(new char[capacity]);  // uninitialized, unlike std::make_unique<char[]>
      capacity_ = capacity;
    }
    size_ = n;
  }

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_BYTE_BUFFER_H_
