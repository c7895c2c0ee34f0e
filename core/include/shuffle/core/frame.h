// The data plane's frame codec. A frame is a fixed 28-byte prefix, a protobuf header of the type
// the prefix names, and a raw payload (block bytes, sent with sendfile/splice on the fast path).
// The prefix checksum covers the prefix fields and the header, not the payload: payload blocks
// carry their own end-to-end checksums (see block.h).
//
// Prefix layout (little-endian):
//   0  u32 magic "SHFR"     4  u8 version          5  u8 type        6  u16 flags
//   8  u64 request_id      16  u32 header_size    20  u32 payload_size
//  24  u32 checksum: low 32 bits of Checksum64 over bytes [0, 24) followed by the header
//
// Functions are pure and thread-safe; a FrameDecoder is not thread-safe (one per connection).
#ifndef SHUFFLE_CORE_FRAME_H_
#define SHUFFLE_CORE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::core {

inline constexpr size_t kFramePrefixSize = 28;
inline constexpr uint32_t kFrameMagic = 0x52464853;  // "SHFR"
inline constexpr uint8_t kFrameVersion = 1;

enum class FrameType : uint8_t {
  kPushRequest = 1,
  kPushResponse = 2,
  kCommitRequest = 3,
  kCommitResponse = 4,
  kFetchRequest = 5,
  kFetchData = 6,
  kFetchEnd = 7,
  kError = 8,
  kPing = 9,
  kPong = 10,
  kLookupRequest = 11,
  kLookupResponse = 12,
};
inline constexpr uint8_t kMaxFrameType = 12;

std::string_view FrameTypeName(FrameType type);

// Bounds a decoder enforces, so a peer cannot make the other side allocate without limit.
struct FrameLimits {
  uint32_t max_header_size = 64u << 10;
  uint32_t max_payload_size = 64u << 20;
};

struct FramePrefix {
  uint8_t version = kFrameVersion;
  FrameType type = FrameType::kPing;
  uint16_t flags = 0;
  uint64_t request_id = 0;
  uint32_t header_size = 0;
  uint32_t payload_size = 0;
  uint32_t checksum = 0;
};

struct Frame {
  FrameType type = FrameType::kPing;
  uint16_t flags = 0;
  uint64_t request_id = 0;
  std::string header;   // serialized protobuf header
  std::string payload;  // raw payload bytes
};

// Returns the prefix and header of a frame whose payload (payload_size bytes) the caller sends
// next. REQUIRES: header.size() and payload_size fit in 32 bits.
std::string EncodeFrameHead(FrameType type, uint64_t request_id, std::string_view header,
                            uint32_t payload_size, uint16_t flags = 0);

// The whole frame in one buffer.
std::string EncodeFrame(FrameType type, uint64_t request_id, std::string_view header,
                        std::string_view payload, uint16_t flags = 0);

// Decodes and validates the fixed prefix (magic, version, type, sizes against `limits`).
// REQUIRES: bytes.size() >= kFramePrefixSize.
absl::StatusOr<FramePrefix> DecodeFramePrefix(std::string_view bytes, const FrameLimits& limits);

// Checks the prefix checksum against the prefix bytes and the header that followed it.
absl::Status VerifyFrameHead(const FramePrefix& prefix, std::string_view prefix_bytes,
                             std::string_view header);

// Incremental decoder for a byte stream: Append() what the socket delivered, then call Next()
// until it returns std::nullopt (more bytes needed). After an error every later call returns the
// same error: the stream cannot be resynchronised and the connection must be closed.
class FrameDecoder {
 public:
  explicit FrameDecoder(FrameLimits limits = {});
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  void Append(std::string_view bytes);
  absl::StatusOr<std::optional<Frame>> Next();

  // Bytes received but not yet returned as part of a frame.
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  FrameLimits limits_;
  std::string buffer_;
  size_t consumed_ = 0;
  absl::Status error_;
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_FRAME_H_
