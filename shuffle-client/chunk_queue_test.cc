#include "shuffle-client/chunk_queue.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle/core/block.h"

namespace shuffle::client {
namespace {

// A chunk holding one block of `raw` record bytes.
std::unique_ptr<FetchChunk> ChunkOf(const std::string& raw) {
  BlockTracker tracker;
  tracker.Accept(core::MapId(0), core::AttemptId(0), 1);
  std::string encoded;
  EXPECT_TRUE(core::EncodeBlock(raw, 1, nullptr, &encoded).ok());
  auto chunk = std::make_unique<FetchChunk>();
  chunk->payload().ResizeUninitialized(encoded.size());
  std::memcpy(chunk->payload().data(), encoded.data(), encoded.size());
  proto::FetchData data;
  data.add_blocks()->set_length(static_cast<uint32_t>(encoded.size()));
  EXPECT_TRUE(DecodeFetchData(data, BlockSource{}, &tracker, nullptr, chunk.get()).ok());
  return chunk;
}

TEST(ChunkQueueTest, DeliversInOrderThenEndsWhenEveryProducerIsDone) {
  ChunkPool pool(1 << 20);
  ChunkQueue queue(1 << 20, /*producers=*/2, &pool);
  ASSERT_TRUE(queue.Push(ChunkOf("a")));
  ASSERT_TRUE(queue.Push(ChunkOf("bb")));
  queue.ProducerDone();
  auto first = queue.Next(nullptr);
  ASSERT_TRUE(first.ok());
  ASSERT_NE(*first, nullptr);
  EXPECT_EQ((*first)->block(0), "a");
  auto second = queue.Next(std::move(*first));
  ASSERT_TRUE(second.ok());
  ASSERT_NE(*second, nullptr);
  EXPECT_EQ((*second)->block(0), "bb");
  EXPECT_GT(pool.kept_bytes(), 0u);  // the first chunk went back to the pool
  // One producer is still at work: the consumer waits for it.
  std::thread late([&queue] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    queue.ProducerDone();
  });
  auto end = queue.Next(std::move(*second));
  late.join();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, nullptr);
  const ChunkQueue::Totals totals = queue.totals();
  EXPECT_EQ(totals.blocks, 2u);
  EXPECT_EQ(totals.encoded_bytes, 2 * core::kBlockHeaderSize + 3);
}

TEST(ChunkQueueTest, AProducerWaitsWhileMaxBytesWait) {
  ChunkPool pool(1 << 20);
  ChunkQueue queue(/*max_bytes=*/10, /*producers=*/1, &pool);
  ASSERT_TRUE(queue.Push(ChunkOf(std::string(30, 'x'))));  // alone, it is always admitted
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(queue.Push(ChunkOf("y")));
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());  // 30 bytes wait, more than 10
  auto first = queue.Next(nullptr);
  ASSERT_TRUE(first.ok());
  producer.join();
  EXPECT_TRUE(pushed.load());
  auto second = queue.Next(std::move(*first));
  ASSERT_TRUE(second.ok());
  ASSERT_NE(*second, nullptr);
  EXPECT_EQ((*second)->block(0), "y");
}

TEST(ChunkQueueTest, CloseWinsOverQueuedChunksAndReleasesAWaitingProducer) {
  ChunkPool pool(1 << 20);
  ChunkQueue queue(/*max_bytes=*/1, /*producers=*/1, &pool);
  ASSERT_TRUE(queue.Push(ChunkOf("queued")));
  std::thread producer([&] { EXPECT_FALSE(queue.Push(ChunkOf("blocked"))); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  queue.Close(absl::DataLossError("corrupt block"));
  queue.Close(absl::CancelledError("reader closed"));  // the first status wins
  producer.join();
  auto next = queue.Next(nullptr);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss) << next.status();
  EXPECT_FALSE(queue.Push(ChunkOf("late")));
}

TEST(ChunkQueueTest, NoProducersMeansTheEndAtOnce) {
  ChunkPool pool(1 << 20);
  ChunkQueue queue(1 << 20, /*producers=*/0, &pool);
  auto end = queue.Next(nullptr);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, nullptr);
}

}  // namespace
}  // namespace shuffle::client
