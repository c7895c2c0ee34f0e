#include "shuffle-server/storage/write_buffers.h"

#include <algorithm>
#include <tuple>

#include "shuffle-server/storage/catalog.h"

namespace shuffle::storage {
namespace {

// How long flushes pause after one failed.
constexpr absl::Duration kFlushBackoff = absl::Milliseconds(200);

}  // namespace

void WriteBuffers::Enqueue(const ShufflePtr& shuffle, uint32_t partition) {
  PartitionBuffer& buffer = shuffle->partitions[partition];
  if (!buffer.queued) {
    buffer.queued = true;
    flush_queue_.emplace_back(shuffle, partition);
  }
}

bool WriteBuffers::Add(const ShufflePtr& shuffle, BlockPtr block) {
  const uint64_t size = block->bytes().size();
  memory_bytes_ += size;
  if (IsDirect(size)) {
    direct_queue_.emplace_back(shuffle, std::move(block));
    return true;
  }
  const uint32_t partition = block->entry.partition;
  PartitionBuffer& buffer = shuffle->partitions[partition];
  buffer.bytes += size;
  buffer.blocks.push_back(std::move(block));
  if (buffer.bytes >= limits_.extent_bytes && !buffer.queued) {
    Enqueue(shuffle, partition);
    return true;
  }
  return false;
}

void WriteBuffers::AddReplayed(const ShufflePtr& shuffle) {
  // Replayed blocks are durable in their commit logs: they wait in memory like any committed
  // block, until a read, seal or drain asks for their partition, the buffer holds an extent's
  // worth, or memory runs short. Queueing every partition here made the first round after a
  // restart write out all of them, and the first fetch wait for it.
  for (uint32_t p = 0; p < shuffle->partitions.size(); ++p) {
    PartitionBuffer& buffer = shuffle->partitions[p];
    for (const BlockPtr& block : buffer.blocks) {
      memory_bytes_ += block->bytes().size();
    }
    if (buffer.bytes >= limits_.extent_bytes) {
      Enqueue(shuffle, p);
    }
  }
  if (memory_bytes_ > limits_.memory_budget_bytes / 4 * 3) {
    pressure_ = true;  // the next round writes the largest buffers out
  }
}

void WriteBuffers::Release(PendingBlock& block) {
  if (block.state != BlockState::kDurable && !block.bytes().empty()) {
    memory_bytes_ -= block.bytes().size();
  }
  block.DropBytes();
  block.state = BlockState::kDurable;
}

void WriteBuffers::RequestFlush(const ShufflePtr& shuffle, uint32_t partition) {
  shuffle->partitions[partition].flush_requested = true;
  Enqueue(shuffle, partition);
}

bool WriteBuffers::HasWork() const {
  return !direct_queue_.empty() || pressure_ ||
         (!flush_queue_.empty() && absl::Now() >= flush_backoff_until_);
}

void WriteBuffers::Take(const ShufflePtr& shuffle, uint32_t partition, std::vector<Flush>& out) {
  PartitionBuffer& buffer = shuffle->partitions[partition];
  Flush flush{.shuffle = shuffle, .partition = partition, .blocks = {}, .length = 0};
  for (BlockPtr& block : buffer.blocks) {
    block->state = BlockState::kFlushing;
    flush.length += block->bytes().size();
    flush.blocks.push_back(std::move(block));
  }
  buffer.blocks.clear();
  buffer.bytes = 0;
  buffer.flush_requested = false;
  out.push_back(std::move(flush));
}

std::vector<WriteBuffers::Flush> WriteBuffers::TakeFlushes(
    const absl::flat_hash_map<ShuffleKey, ShufflePtr>& shuffles) {
  std::vector<Flush> out;
  const bool pressure = pressure_;
  pressure_ = false;
  if (absl::Now() < flush_backoff_until_) {
    return out;
  }
  std::vector<std::pair<ShufflePtr, uint32_t>> queue;
  queue.swap(flush_queue_);
  for (auto& [shuffle, p] : queue) {
    PartitionBuffer& buffer = shuffle->partitions[p];
    buffer.queued = false;
    if (!shuffle->removed && !buffer.blocks.empty() &&
        (buffer.bytes >= limits_.extent_bytes || buffer.flush_requested)) {
      Take(shuffle, p, out);
    }
  }
  if (!pressure && memory_bytes_ <= limits_.memory_budget_bytes / 4 * 3) {
    return out;
  }
  std::vector<std::tuple<uint64_t, ShufflePtr, uint32_t>> candidates;
  for (const auto& [key, shuffle] : shuffles) {
    for (uint32_t p = 0; p < shuffle->partitions.size(); ++p) {
      if (!shuffle->partitions[p].blocks.empty()) {
        candidates.emplace_back(shuffle->partitions[p].bytes, shuffle, p);
      }
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  uint64_t in_flight = 0;
  for (const Flush& flush : out) {
    in_flight += flush.length;
  }
  for (auto& [bytes, shuffle, p] : candidates) {
    if (memory_bytes_ - in_flight <= limits_.memory_budget_bytes / 2) {
      break;
    }
    in_flight += bytes;
    Take(shuffle, p, out);
  }
  return out;
}

std::vector<std::pair<ShufflePtr, BlockPtr>> WriteBuffers::TakeDirect() {
  std::vector<std::pair<ShufflePtr, BlockPtr>> out;
  for (auto& [shuffle, block] : direct_queue_) {
    if (shuffle->removed || block->state == BlockState::kDurable) {
      continue;
    }
    block->state = BlockState::kFlushing;
    out.emplace_back(std::move(shuffle), std::move(block));
  }
  direct_queue_.clear();
  return out;
}

void WriteBuffers::Restore(const ShufflePtr& shuffle, uint32_t partition,
                           std::vector<BlockPtr> blocks, const absl::Status& error) {
  last_flush_error_ = error;
  flush_backoff_until_ = absl::Now() + kFlushBackoff;
  if (shuffle->removed) {
    for (BlockPtr& block : blocks) {
      Release(*block);
    }
    return;
  }
  PartitionBuffer& buffer = shuffle->partitions[partition];
  for (BlockPtr& block : blocks) {
    block->state = BlockState::kInMemory;
    buffer.bytes += block->bytes().size();
  }
  buffer.blocks.insert(buffer.blocks.begin(), blocks.begin(), blocks.end());
  Enqueue(shuffle, partition);
}

}  // namespace shuffle::storage
