#include "tests/fuzz/fuzz_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "shuffle/proto/common.pb.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::fuzz {
namespace {

using core::FrameType;

template <typename Message>
bool ParseAs(const std::string& header) {
  Message message;
  if (!message.ParseFromString(header)) {
    return false;
  }
  Message again;
  SHUFFLE_FUZZ_CHECK(again.ParseFromString(message.SerializeAsString()));
  SHUFFLE_FUZZ_CHECK(again.SerializeAsString() == message.SerializeAsString());
  return true;
}

bool IsResponseType(FrameType type) {
  return type == FrameType::kPushResponse || type == FrameType::kCommitResponse ||
         type == FrameType::kFetchData || type == FrameType::kFetchEnd || type == FrameType::kError;
}

}  // namespace

void Fail(const char* file, int line, std::string_view what) {
  std::fprintf(stderr, "fuzz check failed at %s:%d: %.*s\n", file, line,
               static_cast<int>(what.size()), what.data());
  std::abort();
}

ChunkedInput::ChunkedInput(const uint8_t* data, size_t size) {
  if (size >= 2) {
    max_chunk_ = data[0];
    state_ = (uint32_t{data[0]} << 8 | data[1]) | 1u;
    stream_ = std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2);
  }
}

std::string_view ChunkedInput::NextChunk() {
  size_t n = stream_.size() - pos_;
  if (max_chunk_ != 0) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    n = std::min<size_t>(n, 1 + state_ % max_chunk_);
  }
  std::string_view chunk = stream_.substr(pos_, n);
  pos_ += n;
  return chunk;
}

std::string MakeChunkedInput(uint8_t max_chunk, uint8_t seed, std::string_view stream) {
  std::string input;
  input.push_back(static_cast<char>(max_chunk));
  input.push_back(static_cast<char>(seed));
  input.append(stream);
  return input;
}

bool ParseFrameHeader(const core::Frame& frame) {
  switch (frame.type) {
    case FrameType::kPushRequest:
      return ParseAs<proto::PushRequest>(frame.header);
    case FrameType::kPushResponse:
      return ParseAs<proto::PushResponse>(frame.header);
    case FrameType::kCommitRequest:
      return ParseAs<proto::CommitRequest>(frame.header);
    case FrameType::kCommitResponse:
      return ParseAs<proto::CommitResponse>(frame.header);
    case FrameType::kFetchRequest:
      return ParseAs<proto::FetchRequest>(frame.header);
    case FrameType::kFetchData:
      return ParseAs<proto::FetchData>(frame.header);
    case FrameType::kFetchEnd:
      return ParseAs<proto::FetchEnd>(frame.header);
    case FrameType::kError:
      return ParseAs<proto::Error>(frame.header);
    case FrameType::kLookupRequest:
      return ParseAs<proto::LookupRequest>(frame.header);
    case FrameType::kLookupResponse:
      return ParseAs<proto::LookupResponse>(frame.header);
    case FrameType::kPing:
    case FrameType::kPong:
      return true;
  }
  Fail(__FILE__, __LINE__, "the decoder returned a frame of an unknown type");
}

core::Frame CheckResponseFrame(std::string_view bytes, uint64_t request_id) {
  core::FrameDecoder decoder;
  decoder.Append(bytes);
  absl::StatusOr<std::optional<core::Frame>> frame = decoder.Next();
  SHUFFLE_FUZZ_CHECK(frame.ok());
  SHUFFLE_FUZZ_CHECK(frame->has_value());
  SHUFFLE_FUZZ_CHECK(decoder.buffered() == 0);
  SHUFFLE_FUZZ_CHECK(IsResponseType((*frame)->type));
  SHUFFLE_FUZZ_CHECK((*frame)->request_id == request_id);
  SHUFFLE_FUZZ_CHECK(ParseFrameHeader(**frame));
  return **std::move(frame);
}

}  // namespace shuffle::fuzz
