// Helpers shared by the index and index-codec tests: field-wise equality of records (outside any
// unnamed namespace so GoogleTest's matchers find them) and record builders.
#ifndef SHUFFLE_SERVER_STORAGE_INDEX_TEST_UTIL_H_
#define SHUFFLE_SERVER_STORAGE_INDEX_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "shuffle-server/storage/index.h"

namespace shuffle::storage {

// Field-wise equality for the tests; outside the unnamed namespace so argument-dependent lookup
// finds them from inside GoogleTest's matchers.
inline bool operator==(const BlockEntry& a, const BlockEntry& b) {
  return std::tie(a.map, a.attempt, a.epoch, a.seq, a.partition, a.length) ==
         std::tie(b.map, b.attempt, b.epoch, b.seq, b.partition, b.length);
}
inline bool operator==(const PartitionTotal& a, const PartitionTotal& b) {
  return std::tie(a.partition, a.bytes, a.blocks) == std::tie(b.partition, b.bytes, b.blocks);
}
inline bool operator==(const ShuffleRecord& a, const ShuffleRecord& b) {
  return std::tie(a.handle, a.app_id, a.namespace_name, a.shuffle_id, a.num_partitions,
                  a.created_unix_ms, a.sealed) == std::tie(b.handle, b.app_id, b.namespace_name,
                                                           b.shuffle_id, b.num_partitions,
                                                           b.created_unix_ms, b.sealed);
}
inline bool operator==(const ExtentRecord& a, const ExtentRecord& b) {
  return std::tie(a.handle, a.partition, a.dir, a.offset, a.length, a.blocks) ==
         std::tie(b.handle, b.partition, b.dir, b.offset, b.length, b.blocks);
}
inline bool operator==(const CommitRecord& a, const CommitRecord& b) {
  return std::tie(a.handle, a.map, a.attempt, a.epoch, a.num_partitions, a.partitions) ==
         std::tie(b.handle, b.map, b.attempt, b.epoch, b.num_partitions, b.partitions);
}
inline bool operator==(const LogRecord& a, const LogRecord& b) {
  return std::tie(a.handle, a.dir, a.log_no, a.offset, a.length, a.blocks) ==
         std::tie(b.handle, b.dir, b.log_no, b.offset, b.length, b.blocks);
}

inline constexpr uint64_t kBig = (uint64_t{1} << 32) + 12345;  // An offset beyond 2^32.

inline ShuffleRecord MakeShuffle(uint64_t handle) {
  ShuffleRecord r;
  r.handle = handle;
  r.app_id = "app-" + std::to_string(handle);
  r.namespace_name = "ns";
  r.shuffle_id = static_cast<uint32_t>(handle * 3 + 1);
  r.num_partitions = 1000;
  r.created_unix_ms = 1700000000123 + handle;
  return r;
}

inline ExtentRecord MakeExtent(uint64_t handle, uint32_t partition, uint32_t dir, uint64_t offset) {
  ExtentRecord r;
  r.handle = handle;
  r.partition = partition;
  r.dir = dir;
  r.offset = offset;
  r.blocks = {{.map = 1, .attempt = 2, .epoch = 3, .seq = 4, .partition = partition, .length = 100},
              {.map = 0xffffffff,
               .attempt = 7,
               .epoch = 9,
               .seq = 0x12345678,
               .partition = partition,
               .length = 23}};
  r.length = 123;
  return r;
}

inline CommitRecord MakeCommit(uint64_t handle, uint32_t map) {
  CommitRecord r;
  r.handle = handle;
  r.map = map;
  r.attempt = 3;
  r.epoch = 5;
  r.num_partitions = 1000;
  r.partitions = {{.partition = 0, .bytes = kBig, .blocks = 4},
                  {.partition = 999, .bytes = 17, .blocks = 1}};
  return r;
}

inline LogRecord MakeLog(uint64_t handle, uint32_t dir, uint32_t log_no, uint64_t offset) {
  LogRecord r;
  r.handle = handle;
  r.dir = dir;
  r.log_no = log_no;
  r.offset = offset;
  r.blocks = {{.map = 8, .attempt = 1, .epoch = 2, .seq = 0, .partition = 5, .length = 4096}};
  r.length = 4096;
  return r;
}

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_INDEX_TEST_UTIL_H_
