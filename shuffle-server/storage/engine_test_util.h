// Helpers for storage engine tests: temporary directories, deterministic block contents that a
// verifier can recompute from (shuffle, map, attempt, partition, seq), and engine options sized
// so small tests exercise every path (direct blocks, extent flushes, memory pressure).
#ifndef SHUFFLE_SERVER_STORAGE_ENGINE_TEST_UTIL_H_
#define SHUFFLE_SERVER_STORAGE_ENGINE_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>  // for the tests that include this
#include <string>

#include "shuffle-server/storage/engine.h"
#include "shuffle/core/block.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage::testing {

// The tests' one temporary directory (tests/support/temp_dir.h).
using TempDir = testsupport::TempDir;

// The raw payload of a block is a pure function of its coordinates, so any served block can be
// checked without remembering what was written.
inline std::string BlockPayload(uint32_t shuffle, uint32_t map, uint32_t attempt,
                                uint32_t partition, uint32_t seq, size_t size) {
  std::string s;
  s.reserve(size);
  uint64_t x = (uint64_t{shuffle} << 48) ^ (uint64_t{map} << 32) ^ (uint64_t{attempt} << 20) ^
               (uint64_t{partition} << 8) ^ seq;
  while (s.size() < size) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    s.append("rec-");
    s.append(std::to_string(x >> 40));
    s.push_back('\n');
  }
  s.resize(size);
  return s;
}

inline std::string MakeBlock(uint32_t shuffle, uint32_t map, uint32_t attempt, uint32_t partition,
                             uint32_t seq, size_t size) {
  std::string block;
  absl::Status st = core::EncodeBlock(BlockPayload(shuffle, map, attempt, partition, seq, size),
                                      /*record_count=*/1, /*compressor=*/nullptr, &block);
  if (!st.ok()) {
    std::abort();
  }
  return block;
}

inline EngineOptions SmallOptions(const std::string& dir, Env* env = Env::Default()) {
  EngineOptions o;
  o.data_dirs = {dir + "/d0", dir + "/d1"};
  o.env = env;
  o.extent_bytes = 64 << 10;
  o.direct_block_bytes = 64 << 10;
  o.memory_budget_bytes = 4 << 20;
  o.min_free_bytes = 0;
  o.log_file_bytes = 256 << 10;
  return o;
}

}  // namespace shuffle::storage::testing

#endif  // SHUFFLE_SERVER_STORAGE_ENGINE_TEST_UTIL_H_
