// Fuzzes core::FrameDecoder: the input's byte stream (see ChunkedInput) is appended in chunks
// and every frame it yields is checked. Decoder errors are expected; crashes, undefined
// behaviour, leaks and broken properties are not:
//  - a decoded frame re-encodes (EncodeFrame) to exactly the bytes it was decoded from;
//  - its header and payload respect the limits; its header is parsed as its type's message;
//  - an error is sticky (every later Next() returns it);
//  - buffered() is always the bytes appended minus the bytes of frames returned.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "shuffle/core/frame.h"
#include "tests/fuzz/fuzz_util.h"

namespace shuffle::fuzz {
namespace {

// Small limits, so that inputs of a few kilobytes reach the limit checks too.
constexpr core::FrameLimits kLimits{.max_header_size = 4096, .max_payload_size = 64u << 10};

void CheckFrame(const core::Frame& frame, std::string_view rest_of_stream) {
  SHUFFLE_FUZZ_CHECK(frame.header.size() <= kLimits.max_header_size);
  SHUFFLE_FUZZ_CHECK(frame.payload.size() <= kLimits.max_payload_size);
  const std::string encoded =
      core::EncodeFrame(frame.type, frame.request_id, frame.header, frame.payload, frame.flags);
  SHUFFLE_FUZZ_CHECK(encoded.size() ==
                     core::kFramePrefixSize + frame.header.size() + frame.payload.size());
  SHUFFLE_FUZZ_CHECK(rest_of_stream.substr(0, encoded.size()) == encoded);
  ParseFrameHeader(frame);  // a header that does not parse is the handler's error to report
}

void Run(const uint8_t* data, size_t size) {
  ChunkedInput input(data, size);
  core::FrameDecoder decoder(kLimits);
  size_t appended = 0;
  size_t decoded = 0;  // stream offset of the next frame
  for (std::string_view chunk = input.NextChunk(); !chunk.empty(); chunk = input.NextChunk()) {
    decoder.Append(chunk);
    appended += chunk.size();
    while (true) {
      absl::StatusOr<std::optional<core::Frame>> next = decoder.Next();
      if (!next.ok()) {
        absl::StatusOr<std::optional<core::Frame>> again = decoder.Next();
        SHUFFLE_FUZZ_CHECK(!again.ok() && again.status() == next.status());
        return;
      }
      if (!next->has_value()) {
        break;
      }
      const core::Frame& frame = **next;
      CheckFrame(frame, input.stream().substr(decoded));
      decoded += core::kFramePrefixSize + frame.header.size() + frame.payload.size();
    }
    SHUFFLE_FUZZ_CHECK(decoder.buffered() == appended - decoded);
  }
}

}  // namespace
}  // namespace shuffle::fuzz

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shuffle::fuzz::Run(data, size);
  return 0;
}
