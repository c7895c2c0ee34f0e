#include "shuffle-client/chunk_queue.h"

#include <utility>

namespace shuffle::client {

ChunkQueue::ChunkQueue(uint64_t max_bytes, size_t producers, ChunkPool* pool)
    : max_bytes_(max_bytes), producers_(producers), pool_(pool) {}

ChunkQueue::~ChunkQueue() {
  absl::MutexLock lock(&mu_);
  for (std::unique_ptr<FetchChunk>& chunk : queue_) {
    pool_->Give(std::move(chunk));
  }
}

bool ChunkQueue::Push(std::unique_ptr<FetchChunk> chunk) {
  absl::MutexLock lock(&mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !closed_.ok() || queue_.empty() || queued_bytes_ < max_bytes_;
  };
  mu_.Await(absl::Condition(&room));
  if (!closed_.ok()) {
    return false;
  }
  queued_bytes_ += chunk->raw_bytes();
  totals_.blocks += chunk->blocks();
  totals_.encoded_bytes += chunk->encoded_bytes();
  queue_.push_back(std::move(chunk));
  return true;
}

void ChunkQueue::ProducerDone() {
  absl::MutexLock lock(&mu_);
  ++producers_done_;
}

void ChunkQueue::Close(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (closed_.ok()) {
    closed_ = std::move(status);
  }
}

bool ChunkQueue::WaitReady(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || !closed_.ok() || producers_done_ == producers_;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

absl::StatusOr<std::unique_ptr<FetchChunk>> ChunkQueue::Next(std::unique_ptr<FetchChunk> finished) {
  pool_->Give(std::move(finished));
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || !closed_.ok() || producers_done_ == producers_;
  };
  mu_.Await(absl::Condition(&ready));
  if (!closed_.ok()) {
    return closed_;
  }
  if (queue_.empty()) {
    return std::unique_ptr<FetchChunk>();  // every producer delivered everything
  }
  std::unique_ptr<FetchChunk> chunk = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= chunk->raw_bytes();
  return chunk;
}

ChunkQueue::Totals ChunkQueue::totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

}  // namespace shuffle::client
