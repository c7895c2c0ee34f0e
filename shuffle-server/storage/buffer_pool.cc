#include "shuffle-server/storage/buffer_pool.h"

#include <utility>

namespace shuffle::storage {

AlignedBuffer BufferPool::Take(uint64_t size) {
  size_t best = free_.size();
  for (size_t i = 0; i < free_.size(); ++i) {
    const uint64_t have = free_[i].size();
    if (have >= size && have / 2 <= size && (best == free_.size() || have < free_[best].size())) {
      best = i;
    }
  }
  if (best == free_.size()) {
    ++allocated_;
    return AlignedBuffer::Uninitialized(size);
  }
  ++reused_;
  AlignedBuffer buffer = std::move(free_[best]);
  free_[best] = std::move(free_.back());
  free_.pop_back();
  free_bytes_ -= buffer.size();
  return buffer;
}

void BufferPool::Give(AlignedBuffer buffer) {
  if (buffer.size() == 0 || free_bytes_ + buffer.size() > max_bytes_) {
    return;  // freed here
  }
  free_bytes_ += buffer.size();
  free_.push_back(std::move(buffer));
}

}  // namespace shuffle::storage
