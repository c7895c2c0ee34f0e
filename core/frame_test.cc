#include "shuffle/core/frame.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

TEST(FrameTest, RoundTripThroughDecoderByteByByte) {
  std::vector<std::string> headers = {"", "h", std::string(1000, 'x')};
  std::vector<std::string> payloads = {"", "payload", std::string(70000, 'p')};
  std::string stream;
  uint64_t id = 1;
  for (const auto& h : headers) {
    for (const auto& p : payloads) {
      stream += EncodeFrame(FrameType::kPushRequest, id++, h, p, /*flags=*/3);
    }
  }
  FrameDecoder decoder;
  std::vector<Frame> frames;
  for (char c : stream) {
    decoder.Append(std::string_view(&c, 1));
    auto next = decoder.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (next->has_value()) {
      frames.push_back(std::move(**next));
    }
  }
  ASSERT_EQ(frames.size(), 9u);
  size_t i = 0;
  for (const auto& h : headers) {
    for (const auto& p : payloads) {
      EXPECT_EQ(frames[i].type, FrameType::kPushRequest);
      EXPECT_EQ(frames[i].request_id, i + 1);
      EXPECT_EQ(frames[i].flags, 3);
      EXPECT_EQ(frames[i].header, h);
      EXPECT_EQ(frames[i].payload, p);
      ++i;
    }
  }
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameTest, SeveralFramesInOneAppend) {
  std::string stream = EncodeFrame(FrameType::kPing, 1, "", "") +
                       EncodeFrame(FrameType::kFetchRequest, 2, "hdr", "") +
                       EncodeFrame(FrameType::kError, 3, "e", "");
  FrameDecoder decoder;
  decoder.Append(stream);
  for (uint64_t id : {1, 2, 3}) {
    auto f = decoder.Next();
    ASSERT_TRUE(f.ok() && f->has_value());
    EXPECT_EQ((*f)->request_id, id);
  }
  auto none = decoder.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(FrameTest, TruncatedFrameWaitsForMoreBytes) {
  std::string frame = EncodeFrame(FrameType::kCommitRequest, 9, "header", "body");
  FrameDecoder decoder;
  decoder.Append(std::string_view(frame).substr(0, frame.size() - 1));
  auto partial = decoder.Next();
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
  EXPECT_EQ(decoder.buffered(), frame.size() - 1);
  EXPECT_EQ(DecodeFramePrefix(std::string_view(frame).substr(0, 5), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

absl::Status DecodeOne(const std::string& bytes, FrameLimits limits = {}) {
  FrameDecoder decoder(limits);
  decoder.Append(bytes);
  auto f = decoder.Next();
  if (!f.ok()) {
    return f.status();
  }
  return f->has_value() ? absl::OkStatus() : absl::UnavailableError("incomplete");
}

TEST(FrameTest, BadMagicIsRejectedClearly) {
  std::string frame = EncodeFrame(FrameType::kPing, 1, "", "");
  frame[0] = 'G';  // e.g. an HTTP client: "GET /..."
  absl::Status st = DecodeOne(frame);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("not a shuffle frame"), std::string::npos) << st;
}

TEST(FrameTest, UnknownTypeAndVersionAreUnimplemented) {
  std::string frame = EncodeFrame(FrameType::kPing, 1, "", "");
  std::string unknown = frame;
  unknown[5] = 77;
  absl::Status st = DecodeOne(unknown);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(st.message().find("unknown frame type 77"), std::string::npos) << st;
  std::string zero = frame;
  zero[5] = 0;
  EXPECT_EQ(DecodeOne(zero).code(), absl::StatusCode::kUnimplemented);
  std::string version = frame;
  version[4] = 9;
  st = DecodeOne(version);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(st.message().find("version 9"), std::string::npos) << st;
}

TEST(FrameTest, OversizedHeaderOrPayloadIsRefusedBeforeBuffering) {
  FrameLimits limits{.max_header_size = 16, .max_payload_size = 100};
  // Only the prefix is sent: the decoder must refuse on the declared sizes alone.
  std::string big_payload =
      EncodeFrameHead(FrameType::kPushRequest, 1, "", 101).substr(0, kFramePrefixSize);
  absl::Status st = DecodeOne(big_payload, limits);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("101 bytes exceeds the maximum of 100"), std::string::npos) << st;
  std::string big_header = EncodeFrame(FrameType::kPushRequest, 1, std::string(17, 'h'), "");
  EXPECT_EQ(DecodeOne(big_header, limits).code(), absl::StatusCode::kResourceExhausted);
}

TEST(FrameTest, CorruptHeadIsDataLossAndErrorIsSticky) {
  std::string frame = EncodeFrame(FrameType::kFetchRequest, 5, "some header", "payload");
  frame[kFramePrefixSize + 2] ^= 1;  // flip a header bit
  FrameDecoder decoder;
  decoder.Append(frame);
  auto first = decoder.Next();
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDataLoss);
  decoder.Append(EncodeFrame(FrameType::kPing, 6, "", ""));
  EXPECT_EQ(decoder.Next().status().code(), absl::StatusCode::kDataLoss);
}

TEST(FrameTest, CorruptRequestIdIsDetected) {
  std::string frame = EncodeFrame(FrameType::kFetchRequest, 5, "h", "");
  frame[8] ^= 4;
  EXPECT_EQ(DecodeOne(frame).code(), absl::StatusCode::kDataLoss);
}

TEST(FrameTest, RandomGarbageNeverCrashesAndNeverYieldsAFrame) {
  std::mt19937 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::string junk(rng() % 200, '\0');
    for (char& c : junk) {
      c = static_cast<char>(rng());
    }
    FrameDecoder decoder({.max_header_size = 1024, .max_payload_size = 1024});
    decoder.Append(junk);
    auto f = decoder.Next();
    EXPECT_FALSE(f.ok() && f->has_value()) << "garbage decoded as a frame in round " << round;
  }
}

TEST(FrameTest, TypeNames) {
  EXPECT_EQ(FrameTypeName(FrameType::kFetchEnd), "FetchEnd");
  EXPECT_EQ(FrameTypeName(static_cast<FrameType>(200)), "Unknown");
}

}  // namespace
}  // namespace shuffle::core
