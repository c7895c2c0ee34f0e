#include "shuffle-server/sparkess/wire.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle/core/coding.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::sparkess {
namespace {

absl::Status Truncated(std::string_view what, size_t need, size_t have) {
  return absl::InvalidArgumentError(absl::StrCat("truncated message: ", core::ToAbsl(what),
                                                 " needs ", need, " bytes, ", have, " left"));
}

// Frame length (8 bytes) + type (1 byte) + fields.
std::string FrameHead(MessageType type, size_t fields_bytes, uint64_t body_in_frame) {
  std::string out;
  out.reserve(kFrameLengthBytes + 1 + fields_bytes);
  core::PutBigEndian64(&out, kFrameLengthBytes + 1 + fields_bytes + body_in_frame);
  out.push_back(static_cast<char>(type));
  return out;
}

std::string Frame(MessageType type, const std::string& fields, std::string_view body = {}) {
  std::string out = FrameHead(type, fields.size(), body.size());
  out += fields;
  out.append(body.data(), body.size());
  return out;
}

}  // namespace

absl::StatusOr<std::string_view> WireReader::Take(size_t n, std::string_view what) {
  if (remaining() < n) {
    return Truncated(what, n, remaining());
  }
  std::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<int8_t> WireReader::Byte(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(std::string_view b, Take(1, what));
  return static_cast<int8_t>(b[0]);
}

absl::StatusOr<bool> WireReader::Bool(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(int8_t b, Byte(what));
  return b != 0;
}

absl::StatusOr<int32_t> WireReader::Int(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(std::string_view b, Take(4, what));
  return static_cast<int32_t>(core::GetBigEndian32(b.data()));
}

absl::StatusOr<int64_t> WireReader::Long(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(std::string_view b, Take(8, what));
  return static_cast<int64_t>(core::GetBigEndian64(b.data()));
}

absl::StatusOr<size_t> WireReader::Count(std::string_view what, size_t min_element_bytes) {
  SHUFFLE_ASSIGN_OR_RETURN(int32_t n, Int(what));
  if (n < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed message: ", core::ToAbsl(what), " has length ", n));
  }
  const auto count = static_cast<size_t>(n);
  if (min_element_bytes > 0 && count > remaining() / min_element_bytes) {
    return Truncated(what, count * min_element_bytes, remaining());
  }
  return count;
}

absl::StatusOr<std::string> WireReader::String(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(size_t n, Count(what, 1));
  SHUFFLE_ASSIGN_OR_RETURN(std::string_view b, Take(n, what));
  return std::string(b);
}

absl::StatusOr<std::string> WireReader::Bytes(std::string_view what) { return String(what); }

absl::StatusOr<std::vector<std::string>> WireReader::StringArray(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(size_t n, Count(what, 4));
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    SHUFFLE_ASSIGN_OR_RETURN(std::string s, String(what));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<int32_t>> WireReader::IntArray(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(size_t n, Count(what, 4));
  std::vector<int32_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    SHUFFLE_ASSIGN_OR_RETURN(out[i], Int(what));
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> WireReader::LongArray(std::string_view what) {
  SHUFFLE_ASSIGN_OR_RETURN(size_t n, Count(what, 8));
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    SHUFFLE_ASSIGN_OR_RETURN(out[i], Long(what));
  }
  return out;
}

std::string_view WireReader::Rest() {
  std::string_view out = data_.substr(pos_);
  pos_ = data_.size();
  return out;
}

WireWriter& WireWriter::Byte(int8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}

WireWriter& WireWriter::Int(int32_t v) {
  core::PutBigEndian32(&out_, static_cast<uint32_t>(v));
  return *this;
}

WireWriter& WireWriter::Long(int64_t v) {
  core::PutBigEndian64(&out_, static_cast<uint64_t>(v));
  return *this;
}

WireWriter& WireWriter::String(std::string_view s) {
  Int(static_cast<int32_t>(s.size()));
  return Raw(s);
}

WireWriter& WireWriter::StringArray(const std::vector<std::string>& v) {
  Int(static_cast<int32_t>(v.size()));
  for (const std::string& s : v) {
    String(s);
  }
  return *this;
}

WireWriter& WireWriter::IntArray(const std::vector<int32_t>& v) {
  Int(static_cast<int32_t>(v.size()));
  for (int32_t i : v) {
    Int(i);
  }
  return *this;
}

WireWriter& WireWriter::Raw(std::string_view s) {
  out_.append(s.data(), s.size());
  return *this;
}

absl::StatusOr<Request> DecodeRequest(std::string_view frame) {
  WireReader in(frame);
  SHUFFLE_ASSIGN_OR_RETURN(int8_t type, in.Byte("message type"));
  Request r;
  r.type = static_cast<MessageType>(type);
  switch (r.type) {
    case MessageType::kChunkFetchRequest: {
      SHUFFLE_ASSIGN_OR_RETURN(r.stream_id, in.Long("ChunkFetchRequest stream id"));
      SHUFFLE_ASSIGN_OR_RETURN(r.chunk_index, in.Int("ChunkFetchRequest chunk index"));
      return r;
    }
    case MessageType::kRpcRequest: {
      SHUFFLE_ASSIGN_OR_RETURN(r.request_id, in.Long("RpcRequest request id"));
      SHUFFLE_RETURN_IF_ERROR(in.Int("RpcRequest body size").status());
      r.body = std::string(in.Rest());
      return r;
    }
    case MessageType::kOneWayMessage: {
      SHUFFLE_RETURN_IF_ERROR(in.Int("OneWayMessage body size").status());
      r.body = std::string(in.Rest());
      return r;
    }
    case MessageType::kStreamRequest: {
      SHUFFLE_ASSIGN_OR_RETURN(r.stream_name, in.String("StreamRequest stream id"));
      return r;
    }
    case MessageType::kMergedBlockMetaRequest: {
      SHUFFLE_ASSIGN_OR_RETURN(r.request_id, in.Long("MergedBlockMetaRequest request id"));
      return r;
    }
    case MessageType::kUploadStream: {
      SHUFFLE_ASSIGN_OR_RETURN(r.request_id, in.Long("UploadStream request id"));
      SHUFFLE_RETURN_IF_ERROR(in.Bytes("UploadStream meta").status());
      SHUFFLE_ASSIGN_OR_RETURN(r.upload_bytes, in.Long("UploadStream body size"));
      return r;
    }
    case MessageType::kChunkFetchSuccess:
    case MessageType::kChunkFetchFailure:
    case MessageType::kRpcResponse:
    case MessageType::kRpcFailure:
    case MessageType::kStreamResponse:
    case MessageType::kStreamFailure:
    case MessageType::kMergedBlockMetaSuccess:
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected response message (type ", type, ") from a client"));
  }
  return absl::InvalidArgumentError(absl::StrCat("Unknown message type: ", type));
}

std::optional<int64_t> PeekRpcRequestId(std::string_view head) {
  if (head.size() < 9 || static_cast<MessageType>(head[0]) != MessageType::kRpcRequest) {
    return std::nullopt;
  }
  return static_cast<int64_t>(core::GetBigEndian64(head.data() + 1));
}

std::string EncodeRpcResponse(int64_t request_id, std::string_view body) {
  WireWriter f;
  f.Long(request_id).Int(static_cast<int32_t>(body.size()));
  return Frame(MessageType::kRpcResponse, f.data(), body);
}

std::string EncodeRpcFailure(int64_t request_id, std::string_view error) {
  WireWriter f;
  f.Long(request_id).String(error);
  return Frame(MessageType::kRpcFailure, f.data());
}

std::string EncodeChunkFetchFailure(int64_t stream_id, int32_t chunk_index,
                                    std::string_view error) {
  WireWriter f;
  f.Long(stream_id).Int(chunk_index).String(error);
  return Frame(MessageType::kChunkFetchFailure, f.data());
}

std::string EncodeStreamFailure(std::string_view stream_name, std::string_view error) {
  WireWriter f;
  f.String(stream_name).String(error);
  return Frame(MessageType::kStreamFailure, f.data());
}

std::string EncodeChunkFetchSuccessHead(int64_t stream_id, int32_t chunk_index,
                                        uint64_t body_bytes) {
  WireWriter f;
  f.Long(stream_id).Int(chunk_index);
  std::string out = FrameHead(MessageType::kChunkFetchSuccess, f.data().size(), body_bytes);
  return out + f.data();
}

std::string EncodeStreamResponse(std::string_view stream_name, uint64_t byte_count) {
  WireWriter f;
  f.String(stream_name).Long(static_cast<int64_t>(byte_count));
  return Frame(MessageType::kStreamResponse, f.data());
}

}  // namespace shuffle::sparkess
