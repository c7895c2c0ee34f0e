// Micro-benchmarks of the shared core: block checksum candidates (XXH3-64, the chosen one, vs
// hardware CRC32C), zstd block encoding, and the frame codec.
#include <nmmintrin.h>

#include <cstring>
#include <random>
#include <string>

#include "bench/micro/bench_util.h"
#include "benchmark/benchmark.h"
#include "shuffle/core/block.h"
#include "shuffle/core/checksum.h"
#include "shuffle/core/compression.h"
#include "shuffle/core/frame.h"

namespace shuffle::bench {
namespace {

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

std::string Records(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) {
    s.append("key-" + std::to_string(i % 1000) + "\tvalue-" + std::to_string(i * 7919) + "\n");
  }
  s.resize(n);
  return s;
}

// Hardware CRC32C, one 8-byte lane (the straightforward use of the SSE4.2 instruction).
uint32_t Crc32c(const char* p, size_t n) {
  uint64_t crc = ~0u;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    crc = _mm_crc32_u64(crc, v);
  }
  auto c = static_cast<uint32_t>(crc);
  for (; i < n; ++i) {
    c = _mm_crc32_u8(c, static_cast<uint8_t>(p[i]));
  }
  return ~c;
}

void ChecksumXxh3(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(core::Checksum64(data));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(ChecksumXxh3)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);

void ChecksumCrc32cHardware(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(Crc32c(data.data(), data.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(ChecksumCrc32cHardware)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);

void EncodeBlockZstd(benchmark::State& state) {
  const std::string raw = Records(static_cast<size_t>(state.range(0)));
  auto compressor = core::Compressor::Create(1);
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(core::EncodeBlock(raw, 1, compressor->get(), &out).ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.counters["ratio"] = static_cast<double>(raw.size()) / static_cast<double>(out.size());
}
BENCHMARK(EncodeBlockZstd)->Arg(4 << 10)->Arg(256 << 10);

void DecodeBlockZstd(benchmark::State& state) {
  const std::string raw = Records(static_cast<size_t>(state.range(0)));
  auto compressor = core::Compressor::Create(1);
  auto decompressor = core::Decompressor::Create();
  std::string block;
  (void)core::EncodeBlock(raw, 1, compressor->get(), &block).ok();
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(core::DecodeBlock(block, decompressor->get(), &out).ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(DecodeBlockZstd)->Arg(4 << 10)->Arg(256 << 10);

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

}  // namespace
}  // namespace shuffle::bench

int main(int argc, char** argv) { return shuffle::bench::RunBenchmarks(argc, argv); }
