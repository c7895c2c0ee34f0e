// ChunkQueue: hands FetchChunks from a reader's fetching threads to its consumer, one frame's
// blocks at a time, so the two sides meet (lock, wake-up) once per frame rather than once per
// block. It bounds the raw bytes waiting to be consumed (a chunk is admitted while fewer than
// max_bytes wait, so one chunk always gets through), takes empty chunks from a ChunkPool and
// returns consumed ones to it, and carries the reader's outcome: every producer done, or the
// first error.
//
// Thread-safe.
#ifndef SHUFFLE_CLIENT_CHUNK_QUEUE_H_
#define SHUFFLE_CLIENT_CHUNK_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-client/chunk_pool.h"
#include "shuffle-client/fetch_chunk.h"

namespace shuffle::client {

class ChunkQueue {
 public:
  // `producers`: how many fetchers must call ProducerDone() before the consumer sees the end.
  // `pool` outlives the queue.
  ChunkQueue(uint64_t max_bytes, size_t producers, ChunkPool* pool);
  ~ChunkQueue();  // returns the chunks still queued to the pool
  ChunkQueue(const ChunkQueue&) = delete;
  ChunkQueue& operator=(const ChunkQueue&) = delete;

  // Producer: an empty chunk to fill, from the pool.
  std::unique_ptr<FetchChunk> TakeEmpty() { return pool_->Take(); }
  // Either side: a chunk it no longer needs.
  void Recycle(std::unique_ptr<FetchChunk> chunk) { pool_->Give(std::move(chunk)); }
  // Producer: queues `chunk` behind the others, waiting while max_bytes or more wait. False
  // (the chunk dropped) once the queue is closed.
  bool Push(std::unique_ptr<FetchChunk> chunk);
  // Producer: a fetcher delivered everything it had to.
  void ProducerDone();

  // Ends the queue with `status` (the first one wins): producers' Push() returns false, and the
  // consumer gets `status` instead of the chunks still queued. REQUIRES: !status.ok().
  void Close(absl::Status status);

  // Consumer: recycles `finished` (may be null), then waits for the next chunk. Null at the
  // end (every producer done, nothing queued); the Close() status after a Close().
  absl::StatusOr<std::unique_ptr<FetchChunk>> Next(std::unique_ptr<FetchChunk> finished);
  // Consumer: waits up to `timeout` until Next() would not block; false when it still would.
  bool WaitReady(absl::Duration timeout);

  struct Totals {
    uint64_t blocks = 0;
    uint64_t encoded_bytes = 0;
  };
  // What was queued so far.
  Totals totals() const;

 private:
  const uint64_t max_bytes_;
  const size_t producers_;
  ChunkPool* const pool_;
  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<FetchChunk>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t producers_done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  Totals totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_CHUNK_QUEUE_H_
