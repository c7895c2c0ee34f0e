// Micro-benchmarks of the shared core's byte paths: block checksum candidates (XXH3-64, the chosen
// one, vs hardware CRC32C) and zstd block encoding and decoding of the records the reference jobs
// shuffle, at the client's block size (256 KiB) and at the small-block size (4 KiB), where the
// per-block cost shows. The frame codec is in frame_bench.cc.
#include <nmmintrin.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/micro/bench_util.h"
#include "benchmark/benchmark.h"
#include "driver/jobs/job.h"
#include "shuffle-client/record_format.h"
#include "shuffle/core/block.h"
#include "shuffle/core/checksum.h"
#include "shuffle/core/compression.h"
#include "shuffle/core/ids.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
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

// The records of one block: what a map task hands the shuffle writer, in the block's record
// format (shuffle-client/record_format.h).
enum class Records {
  kSort,     // the sort job: 10-byte random key, 90-byte value of hex row number and random text
  kGroupBy,  // the group-by job: short group keys and decimal amounts; compresses well
  kRandom,   // 10-byte key, 90 random bytes: incompressible, so blocks are stored raw
};

// Keeps the records of the first `limit` bytes.
class BlockSink : public jobs::RecordSink {
 public:
  explicit BlockSink(size_t limit) : limit_(limit) {}
  absl::Status Emit(core::PartitionId /*partition*/, std::string_view key,
                    std::string_view value) override {
    if (raw_.size() < limit_) {
      client::AppendRecord(&raw_, key, value);
      ++records_;
    }
    return absl::OkStatus();
  }
  std::string& raw() { return raw_; }
  uint32_t records() const { return records_; }

 private:
  const size_t limit_;
  std::string raw_;
  uint32_t records_ = 0;
};

absl::Status GenerateRecords(Records kind, size_t bytes, BlockSink& sink) {
  if (kind == Records::kRandom) {
    const std::string random = RandomBytes(bytes + 100);
    for (size_t at = 0; sink.raw().size() < bytes; at += 100) {
      SHUFFLE_RETURN_IF_ERROR(sink.Emit(core::PartitionId(0),
                                        std::string_view(random).substr(at, 10),
                                        std::string_view(random).substr(at + 10, 90)));
    }
    return absl::OkStatus();
  }
  // Every record is at least 8 bytes, so this many rows fill the block.
  const proto::JobSpec spec = jobs::Job::MakeSpec(kind == Records::kSort ? "sort" : "groupby",
                                                  /*seed=*/42, /*num_maps=*/1,
                                                  /*num_partitions=*/1, bytes / 8 + 1);
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<jobs::Job> job, jobs::Job::FromSpec(spec));
  return job->RunMap(core::MapId(0), sink);
}

// One block's raw bytes and record count, or the benchmark fails.
bool MakeBlock(benchmark::State& state, Records kind, size_t bytes, BlockSink& sink) {
  absl::Status status = GenerateRecords(kind, bytes, sink);
  if (status.ok() && sink.raw().size() < bytes) {
    status = absl::InternalError(absl::StrCat("the generator made ", sink.raw().size(),
                                              " of the block's ", bytes, " bytes"));
  }
  if (!status.ok()) {
    Fail(state, status);
    return false;
  }
  return true;
}

void BlockEncode(benchmark::State& state, Records kind, size_t block_bytes) {
  BlockSink sink(block_bytes);
  if (!MakeBlock(state, kind, block_bytes, sink)) {
    return;
  }
  absl::StatusOr<std::unique_ptr<core::Compressor>> compressor = core::Compressor::Create(1);
  if (!compressor.ok()) {
    Fail(state, compressor.status());
    return;
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (absl::Status status =
            core::EncodeBlock(sink.raw(), sink.records(), compressor->get(), &out);
        !status.ok()) {
      Fail(state, status);
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * sink.raw().size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // blocks
  state.counters["ratio"] =
      static_cast<double>(sink.raw().size()) / static_cast<double>(out.size());
}

void BlockDecode(benchmark::State& state, Records kind, size_t block_bytes) {
  BlockSink sink(block_bytes);
  if (!MakeBlock(state, kind, block_bytes, sink)) {
    return;
  }
  absl::StatusOr<std::unique_ptr<core::Compressor>> compressor = core::Compressor::Create(1);
  absl::StatusOr<std::unique_ptr<core::Decompressor>> decompressor = core::Decompressor::Create();
  std::string block;
  absl::Status status = compressor.status();
  status.Update(decompressor.status());
  if (status.ok()) {
    status = core::EncodeBlock(sink.raw(), sink.records(), compressor->get(), &block);
  }
  if (!status.ok()) {
    Fail(state, status);
    return;
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    // DecodeBlock verifies the checksum first, as the reader does for every block.
    if (status = core::DecodeBlock(block, decompressor->get(), &out); !status.ok()) {
      Fail(state, status);
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * sink.raw().size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // blocks
}

BENCHMARK_CAPTURE(BlockEncode, sort_4k, Records::kSort, 4 << 10);
BENCHMARK_CAPTURE(BlockEncode, sort_256k, Records::kSort, 256 << 10);
BENCHMARK_CAPTURE(BlockEncode, groupby_4k, Records::kGroupBy, 4 << 10);
BENCHMARK_CAPTURE(BlockEncode, groupby_256k, Records::kGroupBy, 256 << 10);
BENCHMARK_CAPTURE(BlockEncode, random_4k, Records::kRandom, 4 << 10);
BENCHMARK_CAPTURE(BlockEncode, random_256k, Records::kRandom, 256 << 10);
BENCHMARK_CAPTURE(BlockDecode, sort_4k, Records::kSort, 4 << 10);
BENCHMARK_CAPTURE(BlockDecode, sort_256k, Records::kSort, 256 << 10);
BENCHMARK_CAPTURE(BlockDecode, groupby_4k, Records::kGroupBy, 4 << 10);
BENCHMARK_CAPTURE(BlockDecode, groupby_256k, Records::kGroupBy, 256 << 10);
BENCHMARK_CAPTURE(BlockDecode, random_4k, Records::kRandom, 4 << 10);
BENCHMARK_CAPTURE(BlockDecode, random_256k, Records::kRandom, 256 << 10);

}  // namespace
}  // namespace shuffle::bench

int main(int argc, char** argv) { return shuffle::bench::RunBenchmarks(argc, argv); }
