// FetchChunk: the blocks of one received FetchData frame that a reader hands to its consumer in
// one piece. Blocks stored uncompressed are delivered as views into the frame's payload as it
// came off the socket; compressed ones are decompressed into the chunk's own buffer. Consumed
// chunks are recycled with their buffers, so a fetch settles into no allocation per frame or per
// block. A chunk is owned by one thread at a time (the fetcher filling it, then the consumer).
//
// DecodeFetchData fills a chunk from a frame: it skips blocks of attempts the reader does not
// accept and blocks already delivered before a retry (BlockTracker), verifies every other
// block's checksum and marks it delivered.
#ifndef SHUFFLE_CLIENT_FETCH_CHUNK_H_
#define SHUFFLE_CLIENT_FETCH_CHUNK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "shuffle-client/block_tracker.h"
#include "shuffle-client/byte_buffer.h"
#include "shuffle/core/compression.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::client {

// Where a chunk's blocks come from, for error messages.
struct BlockSource {
  std::string shuffle;  // "app/shuffle"
  std::string server;   // the server's address
};

class FetchChunk {
 public:
  ByteBuffer& payload() { return payload_; }  // the frame's payload; filled by the connection

  size_t blocks() const { return blocks_.size(); }
  // Raw record bytes of the i-th delivered block. REQUIRES: i < blocks().
  std::string_view block(size_t i) const {
    const BlockRef& ref = blocks_[i];
    return {(ref.decompressed ? decompressed_.data() : payload_.data()) + ref.offset, ref.size};
  }
  uint64_t raw_bytes() const { return raw_bytes_; }          // sum of the blocks' raw sizes
  uint64_t encoded_bytes() const { return encoded_bytes_; }  // as received, headers included
  // Bytes the chunk's buffers hold on to.
  size_t capacity() const {
    return payload_.capacity() + decompressed_.capacity() + blocks_.capacity() * sizeof(BlockRef);
  }

 private:
  friend absl::Status DecodeFetchData(const proto::FetchData&, const BlockSource&, BlockTracker*,
                                      core::Decompressor*, FetchChunk*);
  struct BlockRef {
    bool decompressed = false;  // in decompressed_, else in payload_
    size_t offset = 0;
    size_t size = 0;
  };

  ByteBuffer payload_;
  std::string decompressed_;
  std::vector<BlockRef> blocks_;
  uint64_t raw_bytes_ = 0;
  uint64_t encoded_bytes_ = 0;
};

// Replaces `chunk`'s blocks with those of the frame `data` describes, whose payload is in
// chunk->payload(). Errors: DATA_LOSS for a block that fails verification (the message names
// the shuffle, map, attempt, partition, sequence number and server) or for a frame that lists
// more bytes than it carries. Blocks are marked delivered in `tracker` as they are verified;
// after an error the reader must give up. `decompressor` may be null when no block is
// compressed.
absl::Status DecodeFetchData(const proto::FetchData& data, const BlockSource& source,
                             BlockTracker* tracker, core::Decompressor* decompressor,
                             FetchChunk* chunk);

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_FETCH_CHUNK_H_
