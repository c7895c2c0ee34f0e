// Test helpers: the data plane's request messages (push, commit, fetch) built from plain values,
// for the data-plane tests (which send them through a TestClient) and the fuzz corpus generator
// (which encodes them as frames). Header-only; pure functions, thread-safe.
#ifndef SHUFFLE_SERVER_DATAPLANE_TEST_REQUESTS_H_
#define SHUFFLE_SERVER_DATAPLANE_TEST_REQUESTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shuffle/proto/data.pb.h"

namespace shuffle::dataplane::testing {

inline constexpr char kApp[] = "app-1";

// (partition, encoded block)
using Blocks = std::vector<std::pair<uint32_t, std::string>>;

inline proto::Credentials Creds(const std::string& app = kApp) {
  proto::Credentials credentials;
  credentials.set_app_id(app);
  return credentials;
}

// A push's header and its payload (the blocks, back to back).
struct PushParts {
  proto::PushRequest header;
  std::string payload;
};

inline PushParts MakePush(uint32_t shuffle, uint32_t map, uint32_t attempt, const Blocks& blocks,
                          const std::string& app = kApp) {
  PushParts push;
  *push.header.mutable_credentials() = Creds(app);
  push.header.set_shuffle_id(shuffle);
  push.header.set_map_id(map);
  push.header.set_attempt(attempt);
  for (const auto& [partition, block] : blocks) {
    proto::BlockRef* ref = push.header.add_blocks();
    ref->set_partition_id(partition);
    ref->set_length(static_cast<uint32_t>(block.size()));
    push.payload += block;
  }
  return push;
}

// A commit expecting exactly the blocks of `pushed`.
inline proto::CommitRequest MakeCommit(uint32_t shuffle, uint32_t map, uint32_t attempt,
                                       uint32_t partitions, const Blocks& pushed) {
  proto::CommitRequest req;
  *req.mutable_credentials() = Creds();
  req.set_shuffle_id(shuffle);
  req.set_map_id(map);
  req.set_attempt(attempt);
  req.set_num_partitions(partitions);
  uint64_t bytes = 0;
  for (const auto& [partition, block] : pushed) {
    bytes += block.size();
  }
  req.set_expected_blocks(pushed.size());
  req.set_expected_bytes(bytes);
  return req;
}

inline proto::FetchRequest MakeFetch(uint32_t shuffle, uint32_t partition_start,
                                     uint32_t partition_end, uint32_t map_start = 0,
                                     uint32_t map_end = 0) {
  proto::FetchRequest req;
  *req.mutable_credentials() = Creds();
  req.set_shuffle_id(shuffle);
  req.set_partition_start(partition_start);
  req.set_partition_end(partition_end);
  req.set_map_start(map_start);
  req.set_map_end(map_end);
  return req;
}

}  // namespace shuffle::dataplane::testing

#endif  // SHUFFLE_SERVER_DATAPLANE_TEST_REQUESTS_H_
