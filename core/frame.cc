#include "shuffle/core/frame.h"

#include "absl/strings/str_cat.h"
#include "shuffle/core/checksum.h"
#include "shuffle/core/coding.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {
namespace {

uint32_t HeadChecksum(const char* prefix, std::string_view header) {
  StreamingChecksum checksum;
  checksum.Update(prefix, 24);
  checksum.Update(header);
  return static_cast<uint32_t>(checksum.Digest());
}

}  // namespace

std::string_view FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kPushRequest:
      return "PushRequest";
    case FrameType::kPushResponse:
      return "PushResponse";
    case FrameType::kCommitRequest:
      return "CommitRequest";
    case FrameType::kCommitResponse:
      return "CommitResponse";
    case FrameType::kFetchRequest:
      return "FetchRequest";
    case FrameType::kFetchData:
      return "FetchData";
    case FrameType::kFetchEnd:
      return "FetchEnd";
    case FrameType::kError:
      return "Error";
    case FrameType::kPing:
      return "Ping";
    case FrameType::kPong:
      return "Pong";
    case FrameType::kLookupRequest:
      return "LookupRequest";
    case FrameType::kLookupResponse:
      return "LookupResponse";
  }
  return "Unknown";
}

std::string EncodeFrameHead(FrameType type, uint64_t request_id, std::string_view header,
                            uint32_t payload_size, uint16_t flags) {
  std::string out(kFramePrefixSize, '\0');
  char* p = out.data();
  EncodeFixed32(p, kFrameMagic);
  p[4] = static_cast<char>(kFrameVersion);
  p[5] = static_cast<char>(type);
  EncodeFixed16(p + 6, flags);
  EncodeFixed64(p + 8, request_id);
  EncodeFixed32(p + 16, static_cast<uint32_t>(header.size()));
  EncodeFixed32(p + 20, payload_size);
  EncodeFixed32(p + 24, HeadChecksum(p, header));
  out.append(header);
  return out;
}

std::string EncodeFrame(FrameType type, uint64_t request_id, std::string_view header,
                        std::string_view payload, uint16_t flags) {
  std::string out =
      EncodeFrameHead(type, request_id, header, static_cast<uint32_t>(payload.size()), flags);
  out.append(payload);
  return out;
}

absl::StatusOr<FramePrefix> DecodeFramePrefix(std::string_view bytes, const FrameLimits& limits) {
  if (bytes.size() < kFramePrefixSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame prefix truncated: ", bytes.size(), " of ", kFramePrefixSize, " bytes"));
  }
  const char* p = bytes.data();
  const uint32_t magic = DecodeFixed32(p);
  if (magic != kFrameMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a shuffle frame: magic 0x", absl::Hex(magic, absl::kZeroPad8),
                     ", expected 0x", absl::Hex(kFrameMagic, absl::kZeroPad8),
                     " (is the peer speaking the shuffle data-plane protocol?)"));
  }
  FramePrefix prefix;
  prefix.version = static_cast<uint8_t>(p[4]);
  if (prefix.version != kFrameVersion) {
    return absl::UnimplementedError(absl::StrCat("unsupported frame version ", prefix.version,
                                                 "; this side speaks version ", kFrameVersion));
  }
  const auto type = static_cast<uint8_t>(p[5]);
  if (type == 0 || type > kMaxFrameType) {
    return absl::UnimplementedError(absl::StrCat("unknown frame type ", type));
  }
  prefix.type = static_cast<FrameType>(type);
  prefix.flags = DecodeFixed16(p + 6);
  prefix.request_id = DecodeFixed64(p + 8);
  prefix.header_size = DecodeFixed32(p + 16);
  prefix.payload_size = DecodeFixed32(p + 20);
  prefix.checksum = DecodeFixed32(p + 24);
  if (prefix.header_size > limits.max_header_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat(ToAbsl(FrameTypeName(prefix.type)), " frame header of ", prefix.header_size,
                     " bytes exceeds the maximum of ", limits.max_header_size));
  }
  if (prefix.payload_size > limits.max_payload_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat(ToAbsl(FrameTypeName(prefix.type)), " frame payload of ", prefix.payload_size,
                     " bytes exceeds the maximum of ", limits.max_payload_size));
  }
  return prefix;
}

absl::Status VerifyFrameHead(const FramePrefix& prefix, std::string_view prefix_bytes,
                             std::string_view header) {
  if (prefix_bytes.size() < kFramePrefixSize || header.size() != prefix.header_size) {
    return absl::InvalidArgumentError("frame head truncated");
  }
  const uint32_t computed = HeadChecksum(prefix_bytes.data(), header);
  if (computed != prefix.checksum) {
    return absl::DataLossError(absl::StrCat(ToAbsl(FrameTypeName(prefix.type)), " frame ",
                                            prefix.request_id, ": head checksum mismatch (0x",
                                            absl::Hex(prefix.checksum, absl::kZeroPad8), " != 0x",
                                            absl::Hex(computed, absl::kZeroPad8), ")"));
  }
  return absl::OkStatus();
}

FrameDecoder::FrameDecoder(FrameLimits limits) : limits_(limits) {}

void FrameDecoder::Append(std::string_view bytes) {
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!error_.ok()) {
    return error_;
  }
  std::string_view available(buffer_.data() + consumed_, buffer_.size() - consumed_);
  if (available.size() < kFramePrefixSize) {
    return std::optional<Frame>();
  }
  absl::StatusOr<FramePrefix> prefix = DecodeFramePrefix(available, limits_);
  if (!prefix.ok()) {
    error_ = prefix.status();
    return error_;
  }
  const size_t total = kFramePrefixSize + size_t{prefix->header_size} + prefix->payload_size;
  if (available.size() < total) {
    return std::optional<Frame>();
  }
  std::string_view header = available.substr(kFramePrefixSize, prefix->header_size);
  if (absl::Status st = VerifyFrameHead(*prefix, available, header); !st.ok()) {
    error_ = st;
    return error_;
  }
  Frame frame;
  frame.type = prefix->type;
  frame.flags = prefix->flags;
  frame.request_id = prefix->request_id;
  frame.header.assign(header);
  frame.payload.assign(
      available.substr(kFramePrefixSize + prefix->header_size, prefix->payload_size));
  consumed_ += total;
  return std::optional<Frame>(std::move(frame));
}

}  // namespace shuffle::core
