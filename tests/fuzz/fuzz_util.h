// Helpers shared by the fuzz targets (tests/fuzz): the input format of the stream targets, a
// check that aborts with a message (libFuzzer reports an abort as a crash and keeps the input),
// and checks on frames: their header parses as the protobuf message the frame type names, and a
// response is exactly one well-formed frame. Not thread-safe; libFuzzer runs one input at a time.
#ifndef SHUFFLE_TESTS_FUZZ_FUZZ_UTIL_H_
#define SHUFFLE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shuffle/core/frame.h"

namespace shuffle::fuzz {

// Prints "fuzz check failed at file:line: what" and aborts.
[[noreturn]] void Fail(const char* file, int line, std::string_view what);

#define SHUFFLE_FUZZ_CHECK(condition)                        \
  do {                                                       \
    if (!(condition)) {                                      \
      ::shuffle::fuzz::Fail(__FILE__, __LINE__, #condition); \
    }                                                        \
  } while (false)

// The input of the stream targets: bytes [0, 2) seed the sizes of the chunks in which the rest,
// the byte stream, arrives (as a socket might deliver it). Byte 0 is the largest chunk size; 0
// delivers the whole stream in one chunk.
class ChunkedInput {
 public:
  ChunkedInput(const uint8_t* data, size_t size);

  std::string_view stream() const { return stream_; }
  // The next chunk of the stream; empty once it is all delivered.
  std::string_view NextChunk();

 private:
  std::string_view stream_;
  size_t pos_ = 0;
  uint32_t max_chunk_ = 0;  // 0: no limit
  uint32_t state_ = 1;      // xorshift32
};

// The input that delivers `stream` in chunks of at most `max_chunk` bytes (0: one chunk); the
// corpus generator writes these.
std::string MakeChunkedInput(uint8_t max_chunk, uint8_t seed, std::string_view stream);

// True when the frame's header parses as the message its type names (any header for kPing and
// kPong, which carry none); a parsed header must also survive a serialize-parse round trip.
bool ParseFrameHeader(const core::Frame& frame);

// Checks that `bytes`, one response frame a handler sent, decodes as exactly one frame of a
// response type answering `request_id`, with a header that parses; returns that frame.
core::Frame CheckResponseFrame(std::string_view bytes, uint64_t request_id);

}  // namespace shuffle::fuzz

#endif  // SHUFFLE_TESTS_FUZZ_FUZZ_UTIL_H_
