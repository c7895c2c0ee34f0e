#include "shuffle-client/chunk_pool.h"

#include "gtest/gtest.h"

namespace shuffle::client {
namespace {

TEST(ChunkPoolTest, GivesBackTheChunksItKeeps) {
  ChunkPool pool(1 << 20);
  std::unique_ptr<FetchChunk> chunk = pool.Take();
  ASSERT_NE(chunk, nullptr);
  chunk->payload().ResizeUninitialized(4096);
  FetchChunk* const kept = chunk.get();
  pool.Give(std::move(chunk));
  EXPECT_GE(pool.kept_bytes(), 4096u);
  std::unique_ptr<FetchChunk> again = pool.Take();
  EXPECT_EQ(again.get(), kept);
  EXPECT_GE(again->payload().capacity(), 4096u);  // its buffer came with it
  EXPECT_EQ(pool.kept_bytes(), 0u);
  EXPECT_NE(pool.Take(), nullptr);  // empty: a new one
}

TEST(ChunkPoolTest, KeepsNoMoreThanItsBound) {
  ChunkPool pool(10000);
  for (int i = 0; i < 5; ++i) {
    auto chunk = std::make_unique<FetchChunk>();
    chunk->payload().ResizeUninitialized(4000);
    pool.Give(std::move(chunk));
  }
  EXPECT_LE(pool.kept_bytes(), 10000u);
  EXPECT_GE(pool.kept_bytes(), 8000u);
  pool.Give(nullptr);  // ignored
}

}  // namespace
}  // namespace shuffle::client
