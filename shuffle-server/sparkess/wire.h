// Spark's transport protocol on the wire (Spark's common/network-common): frames of an 8-byte
// big-endian length (counting itself), a one-byte message type and the message's fields, then
// for some messages a body. Big-endian integers; strings are a 4-byte length and UTF-8 bytes.
//
// WireReader and WireWriter are the field codecs; DecodeRequest turns one request frame (what
// follows the length) into a Request; the Encode* functions build response frames. Every
// decoding error is INVALID_ARGUMENT naming what was truncated or malformed. Plain values and
// pure functions: thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_WIRE_H_
#define SHUFFLE_SERVER_SPARKESS_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::sparkess {

// Spark's Message.Type ids.
enum class MessageType : int8_t {
  kChunkFetchRequest = 0,
  kChunkFetchSuccess = 1,
  kChunkFetchFailure = 2,
  kRpcRequest = 3,
  kRpcResponse = 4,
  kRpcFailure = 5,
  kStreamRequest = 6,
  kStreamResponse = 7,
  kStreamFailure = 8,
  kOneWayMessage = 9,
  kUploadStream = 10,
  kMergedBlockMetaRequest = 11,
  kMergedBlockMetaSuccess = 12,
};

// Bytes of the frame length that starts every frame.
inline constexpr size_t kFrameLengthBytes = 8;

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  absl::StatusOr<int8_t> Byte(std::string_view what);
  absl::StatusOr<bool> Bool(std::string_view what);
  absl::StatusOr<int32_t> Int(std::string_view what);
  absl::StatusOr<int64_t> Long(std::string_view what);
  absl::StatusOr<std::string> String(std::string_view what);
  absl::StatusOr<std::string> Bytes(std::string_view what);  // 4-byte length, then the bytes
  absl::StatusOr<std::vector<std::string>> StringArray(std::string_view what);
  absl::StatusOr<std::vector<int32_t>> IntArray(std::string_view what);
  absl::StatusOr<std::vector<int64_t>> LongArray(std::string_view what);

  size_t remaining() const { return data_.size() - pos_; }
  // The unread bytes; consumes them.
  std::string_view Rest();

 private:
  absl::StatusOr<std::string_view> Take(size_t n, std::string_view what);
  // A count read from the wire, checked against what is left (each element needs at least
  // `min_element_bytes`), so a forged count cannot make the decoder allocate gigabytes.
  absl::StatusOr<size_t> Count(std::string_view what, size_t min_element_bytes);

  std::string_view data_;
  size_t pos_ = 0;
};

class WireWriter {
 public:
  WireWriter& Byte(int8_t v);
  WireWriter& Bool(bool v) { return Byte(v ? 1 : 0); }
  WireWriter& Int(int32_t v);
  WireWriter& Long(int64_t v);
  WireWriter& String(std::string_view s);
  WireWriter& Bytes(std::string_view s) { return String(s); }
  WireWriter& StringArray(const std::vector<std::string>& v);
  WireWriter& IntArray(const std::vector<int32_t>& v);
  WireWriter& Raw(std::string_view s);

  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// One request frame from a client.
struct Request {
  MessageType type = MessageType::kRpcRequest;
  int64_t request_id = 0;    // RpcRequest, MergedBlockMetaRequest, UploadStream
  int64_t stream_id = 0;     // ChunkFetchRequest
  int32_t chunk_index = 0;   // ChunkFetchRequest
  std::string stream_name;   // StreamRequest ("<stream id>_<chunk index>")
  std::string body;          // RpcRequest, OneWayMessage: the message bytes
  int64_t upload_bytes = 0;  // UploadStream: bytes that follow the frame
};

// Decodes `frame`, a whole frame without its 8-byte length. INVALID_ARGUMENT for a truncated
// frame, a response type (a server never receives those) or an unknown type.
absl::StatusOr<Request> DecodeRequest(std::string_view frame);

// The request id of an RpcRequest frame from its first bytes (type and id), for answering a
// frame the server refuses to read whole; nullopt when `head` is not the start of an RPC.
std::optional<int64_t> PeekRpcRequestId(std::string_view head);

// Whole response frames (length included).
std::string EncodeRpcResponse(int64_t request_id, std::string_view body);
std::string EncodeRpcFailure(int64_t request_id, std::string_view error);
std::string EncodeChunkFetchFailure(int64_t stream_id, int32_t chunk_index, std::string_view error);
std::string EncodeStreamFailure(std::string_view stream_name, std::string_view error);

// The head of a ChunkFetchSuccess whose `body_bytes` of body follow (the frame length counts
// them).
std::string EncodeChunkFetchSuccessHead(int64_t stream_id, int32_t chunk_index,
                                        uint64_t body_bytes);
// A StreamResponse frame; its `byte_count` bytes follow the frame (not counted in its length).
std::string EncodeStreamResponse(std::string_view stream_name, uint64_t byte_count);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_WIRE_H_
