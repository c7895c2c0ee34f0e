// Micro-benchmarks of the frame codec as the data plane uses it: the server encoding a fetch
// response of many blocks (FetchData header, prefix, payload copy), a client decoding a stream
// of such frames from socket-sized reads, and the server's per-frame head check of a push.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/micro/bench_util.h"
#include "benchmark/benchmark.h"
#include "shuffle/core/frame.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/proto/data.pb.h"

namespace shuffle::bench {
namespace {

// The data plane cuts a fetch into FetchData frames of about this many payload bytes.
constexpr size_t kFetchFrameBytes = 1 << 20;

// `blocks` blocks filling one FetchData frame.
std::vector<std::string> FetchBlocks(size_t blocks) {
  std::vector<std::string> out;
  for (size_t i = 0; i < blocks; ++i) {
    out.emplace_back(kFetchFrameBytes / blocks, static_cast<char>('a' + i % 26));
  }
  return out;
}

// A FetchData frame, built the way the server's fetch stream builds one.
std::string EncodeFetchData(uint64_t request_id, const std::vector<std::string>& blocks) {
  proto::FetchData data;
  uint64_t bytes = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    proto::BlockOrigin* origin = data.add_blocks();
    origin->set_map_id(static_cast<uint32_t>(i));
    origin->set_attempt(0);
    origin->set_partition_id(7);
    origin->set_length(static_cast<uint32_t>(blocks[i].size()));
    origin->set_seq(static_cast<uint32_t>(i));
    bytes += blocks[i].size();
  }
  std::string frame = core::EncodeFrameHead(core::FrameType::kFetchData, request_id,
                                            data.SerializeAsString(), static_cast<uint32_t>(bytes));
  frame.reserve(frame.size() + bytes);
  for (const std::string& block : blocks) {
    frame.append(block);
  }
  return frame;
}

void FrameRoundTrip(benchmark::State& state) {
  const std::string header(64, 'h');
  const std::string payload(static_cast<size_t>(state.range(0)), 'p');
  for (auto _ : state) {
    core::FrameDecoder decoder;
    decoder.Append(core::EncodeFrame(core::FrameType::kPushRequest, 1, header, payload));
    benchmark::DoNotOptimize(decoder.Next());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(FrameRoundTrip)->Arg(0)->Arg(4 << 10);

// Arg: blocks per 1 MiB frame (4: 256 KiB client blocks; 256: 4 KiB small blocks).
void FetchDataFrameEncode(benchmark::State& state) {
  const std::vector<std::string> blocks = FetchBlocks(static_cast<size_t>(state.range(0)));
  uint64_t request_id = 0;
  for (auto _ : state) {
    std::string frame = EncodeFetchData(++request_id, blocks);
    benchmark::DoNotOptimize(frame.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kFetchFrameBytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));  // blocks
}
BENCHMARK(FetchDataFrameEncode)->ArgName("blocks")->Arg(4)->Arg(256);

// Feeds `stream` to a new decoder `chunk` bytes at a time, taking out every complete frame after
// each append, as a client does after each recv(); returns how many frames came out.
absl::StatusOr<size_t> DecodeInChunks(std::string_view stream, size_t chunk) {
  core::FrameDecoder decoder;
  size_t frames = 0;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    decoder.Append(stream.substr(at, chunk));
    while (true) {
      SHUFFLE_ASSIGN_OR_RETURN(std::optional<core::Frame> frame, decoder.Next());
      if (!frame.has_value()) {
        break;
      }
      benchmark::DoNotOptimize(frame->payload.data());
      ++frames;
    }
  }
  return frames;
}

// A client receiving 8 FetchData frames of 256 blocks in reads of `chunk` bytes
// (shuffle-client/frame_connection.cc reads 64 KiB at a time).
void FetchStreamDecodeChunked(benchmark::State& state) {
  constexpr size_t kFrames = 8;
  const std::vector<std::string> blocks = FetchBlocks(256);
  std::string stream;
  for (size_t i = 0; i < kFrames; ++i) {
    stream += EncodeFetchData(i + 1, blocks);
  }
  for (auto _ : state) {
    absl::StatusOr<size_t> frames = DecodeInChunks(stream, static_cast<size_t>(state.range(0)));
    if (frames.ok() && *frames != kFrames) {
      frames = absl::InternalError(absl::StrCat("decoded ", *frames, " of ", kFrames, " frames"));
    }
    if (!frames.ok()) {
      Fail(state, frames.status());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFrames));  // frames
}
BENCHMARK(FetchStreamDecodeChunked)->ArgName("chunk")->Arg(16 << 10)->Arg(64 << 10);

// The server's codec work per push frame: it reads the 28-byte prefix, checks it against the
// limits, reads the header and payload, verifies the head checksum and parses the header.
// Arg: blocks in the push (its BlockRef list is the header).
void PushFrameHeadCheck(benchmark::State& state) {
  proto::PushRequest request;
  request.mutable_credentials()->set_app_id("app-20240101-0001");
  request.set_shuffle_id(3);
  request.set_map_id(1234);
  request.set_attempt(0);
  for (int64_t i = 0; i < state.range(0); ++i) {
    proto::BlockRef* ref = request.add_blocks();
    ref->set_partition_id(static_cast<uint32_t>(i));
    ref->set_length(4 << 10);
  }
  const std::string header = request.SerializeAsString();
  const std::string head = core::EncodeFrameHead(core::FrameType::kPushRequest, 1, header,
                                                 static_cast<uint32_t>(state.range(0) * (4 << 10)));
  const std::string_view prefix_bytes = std::string_view(head).substr(0, core::kFramePrefixSize);
  const core::FrameLimits limits;
  proto::PushRequest parsed;
  for (auto _ : state) {
    absl::StatusOr<core::FramePrefix> prefix = core::DecodeFramePrefix(prefix_bytes, limits);
    absl::Status status = prefix.status();
    if (status.ok()) {
      status = core::VerifyFrameHead(*prefix, prefix_bytes, header);
    }
    if (status.ok() && !parsed.ParseFromString(header)) {
      status = absl::DataLossError("push header does not parse");
    }
    if (!status.ok()) {
      Fail(state, status);
      break;
    }
    benchmark::DoNotOptimize(parsed.blocks_size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // frames
}
BENCHMARK(PushFrameHeadCheck)->ArgName("blocks")->Arg(1)->Arg(64)->Arg(1024);

}  // namespace
}  // namespace shuffle::bench
