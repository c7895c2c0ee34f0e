// The write buffers: blocks pushed and not yet durable in an extent. Small blocks aggregate per
// (shuffle, partition) in a PartitionBuffer until it holds an extent's worth, memory runs short
// (largest buffers first), or a seal, read or drain asks for it; blocks of at least
// direct_block_bytes wait in a queue to become extents of their own. The buffers count the memory
// they hold against the budget: a push that would exceed it waits (backpressure) while the I/O
// thread writes buffers out. A large block shares its push frame's payload (PendingBlock): the
// frame's small blocks, copied, are then held twice until the large ones are durable, a bounded
// excess (a frame's size per frame in flight) the budget does not count.
//
// Thread-safety: none of its own. WriteBuffers REQUIRES the engine's lock (the engine declares it
// ABSL_GUARDED_BY its mutex), and so do the fields of PendingBlock and PartitionBuffer marked
// "locked". A block's bytes never change once pushed: the I/O thread copies them without the lock
// while its round holds the block.
#ifndef SHUFFLE_SERVER_STORAGE_WRITE_BUFFERS_H_
#define SHUFFLE_SERVER_STORAGE_WRITE_BUFFERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/commit_log.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/index.h"

namespace shuffle::storage {

enum class BlockState { kInMemory, kFlushing, kDurable };

struct PendingBlock {
  BlockEntry entry;
  BlockState state = BlockState::kInMemory;  // locked
  std::shared_ptr<LogRegion> log;            // locked; the region holding it, once logged
  uint64_t flush_round = 0;                  // locked; the I/O round writing it (kFlushing)

  // Its bytes until they are durable in an extent (then empty): a copy of its own, or a view
  // into a push frame's payload that it keeps alive, shared with that push's other blocks.
  std::string_view bytes() const { return bytes_; }
  void CopyBytes(std::string_view bytes) {
    owned_.assign(bytes.data(), bytes.size());
    shared_.reset();
    bytes_ = owned_;
  }
  // REQUIRES: `bytes` lies within *payload.
  void ShareBytes(std::shared_ptr<const std::string> payload, std::string_view bytes) {
    std::string().swap(owned_);
    shared_ = std::move(payload);
    bytes_ = bytes;
  }
  void DropBytes() {
    bytes_ = {};
    std::string().swap(owned_);
    shared_.reset();
  }

 private:
  std::string_view bytes_;
  std::string owned_;
  std::shared_ptr<const std::string> shared_;
};
using BlockPtr = std::shared_ptr<PendingBlock>;

// One (shuffle, partition)'s aggregation buffer. All fields locked.
struct PartitionBuffer {
  std::vector<BlockPtr> blocks;  // kInMemory blocks, in push order
  uint64_t bytes = 0;
  bool queued = false;  // in the flush queue
  bool flush_requested = false;
};

struct ShuffleState;  // catalog.h
using ShufflePtr = std::shared_ptr<ShuffleState>;

class WriteBuffers {
 public:
  struct Limits {
    uint64_t extent_bytes = 0;
    uint64_t direct_block_bytes = 0;
    uint64_t memory_budget_bytes = 0;
  };
  explicit WriteBuffers(const Limits& limits) : limits_(limits) {}
  WriteBuffers(const WriteBuffers&) = delete;
  WriteBuffers& operator=(const WriteBuffers&) = delete;

  // --- backpressure
  // True while `incoming` more bytes would take memory over the budget (a push waits then); an
  // engine holding nothing admits any push.
  bool OverBudget(uint64_t incoming) const {
    return memory_bytes_ > 0 && memory_bytes_ + incoming > limits_.memory_budget_bytes;
  }
  // A push is waiting for memory: the next round also writes out the largest buffers.
  void NotePressure() { pressure_ = true; }
  uint64_t memory_bytes() const { return memory_bytes_; }

  // --- pushes
  // Whether a block of `size` bytes becomes an extent of its own.
  bool IsDirect(uint64_t size) const { return size >= limits_.direct_block_bytes; }
  // Holds a new block of `shuffle`: queued as its own extent when IsDirect, else in its
  // partition's buffer (queued for a flush once the buffer holds an extent's worth). Returns true
  // when the I/O thread has work now.
  bool Add(const ShufflePtr& shuffle, BlockPtr block);
  // Recovery: counts the memory of the blocks replayed into the shuffle's buffers. They stay
  // there until asked for (a read flushes only its partitions), unless a buffer already holds an
  // extent's worth or memory is above 3/4 of the budget.
  void AddReplayed(const ShufflePtr& shuffle);
  // Releases a block's memory; it is durable (or dropped) from now on.
  void Release(PendingBlock& block);
  // Asks the next round to write partition `partition`'s buffer out.
  void RequestFlush(const ShufflePtr& shuffle, uint32_t partition);

  // --- the I/O thread
  bool HasWork() const;
  struct Flush {
    ShufflePtr shuffle;
    uint32_t partition = 0;
    std::vector<BlockPtr> blocks;  // now kFlushing
    uint64_t length = 0;
  };
  // The buffers the next round writes: the full and requested ones, and under memory pressure
  // (or above 3/4 of the budget) the largest of all `shuffles` until memory would be back under
  // half the budget. Nothing while a failed flush's pause lasts.
  std::vector<Flush> TakeFlushes(const absl::flat_hash_map<ShuffleKey, ShufflePtr>& shuffles);
  // The large blocks queued since the last round, now kFlushing (removed shuffles' dropped).
  std::vector<std::pair<ShufflePtr, BlockPtr>> TakeDirect();
  // A flush failed with `error`: its blocks go back to the front of their buffer (or are dropped
  // when the shuffle was removed), retried after a pause.
  void Restore(const ShufflePtr& shuffle, uint32_t partition, std::vector<BlockPtr> blocks,
               const absl::Status& error);
  const absl::Status& last_flush_error() const { return last_flush_error_; }

 private:
  void Enqueue(const ShufflePtr& shuffle, uint32_t partition);
  void Take(const ShufflePtr& shuffle, uint32_t partition, std::vector<Flush>& out);

  const Limits limits_;
  uint64_t memory_bytes_ = 0;
  bool pressure_ = false;
  std::vector<std::pair<ShufflePtr, uint32_t>> flush_queue_;
  std::vector<std::pair<ShufflePtr, BlockPtr>> direct_queue_;
  absl::Status last_flush_error_;
  absl::Time flush_backoff_until_ = absl::InfinitePast();
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_WRITE_BUFFERS_H_
