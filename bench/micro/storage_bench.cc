// Micro-benchmarks of the storage engine's metadata path (shuffle-server/storage/):
//  - committing maps' block records to the RocksDB index with a synced write, as every
//    group-commit round does (one batch holding each commit's log region and commit record);
//  - scanning a partition range's extents from an index holding many maps;
//  - planning a partition's disk reads from its extents (read_plan.h), with the resulting reads
//    per MiB served, which should stay near 1 when small blocks were aggregated into 1 MiB extents.
// Index files live in a temporary directory under $TMPDIR (default /tmp); its file system decides
// what a WAL sync costs.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/micro/bench_util.h"
#include "benchmark/benchmark.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/index.h"
#include "shuffle-server/storage/read_plan.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

using storage::BlockEntry;
using storage::ExtentRecord;
using storage::Index;

constexpr uint64_t kHandle = 1;
constexpr uint32_t kAttempt = 0;
constexpr uint32_t kEpoch = 1;
constexpr double kMiB = 1 << 20;

// "About 4 KiB": lengths spread over [3.5 KiB, 4.5 KiB), so extents do not end on alignment.
class BlockLengths {
 public:
  uint32_t Next() { return 3584 + static_cast<uint32_t>(rng_() % 1024); }

 private:
  std::mt19937 rng_{17};
};

uint64_t AlignUp(uint64_t v) {
  return (v + storage::kDirectIoAlignment - 1) & ~uint64_t{storage::kDirectIoAlignment - 1};
}

// ---- Commit -----------------------------------------------------------------------------------

// The index records of one map's commit whose `blocks` small blocks (one per partition) are
// still in memory: the commit-log region that holds them and the commit record.
void AddCommit(uint32_t map, uint32_t blocks, BlockLengths& lengths, Index::Batch& batch) {
  storage::LogRecord log{.handle = kHandle,
                         .dir = 0,
                         .log_no = 0,
                         .offset = uint64_t{map} << 24,
                         .length = 0,
                         .blocks = {}};
  storage::CommitRecord commit{.handle = kHandle,
                               .map = map,
                               .attempt = kAttempt,
                               .epoch = kEpoch,
                               .num_partitions = blocks,
                               .partitions = {}};
  for (uint32_t p = 0; p < blocks; ++p) {
    const uint32_t length = lengths.Next();
    log.blocks.push_back(BlockEntry{.map = map,
                                    .attempt = kAttempt,
                                    .epoch = kEpoch,
                                    .seq = p,
                                    .partition = p,
                                    .length = length});
    log.length += length;
    commit.partitions.push_back({.partition = p, .bytes = length, .blocks = 1});
  }
  batch.PutLog(log);
  batch.PutCommit(commit);
}

// Args: blocks per commit, commits per synced write (a group-commit round).
void IndexCommit(benchmark::State& state) {
  const auto blocks = static_cast<uint32_t>(state.range(0));
  const auto commits = static_cast<uint32_t>(state.range(1));
  absl::StatusOr<TempDir> dir = TempDir::Create("storage_bench");
  if (!dir.ok()) {
    Fail(state, dir.status());
    return;
  }
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(dir->path() + "/index");
  if (!index.ok()) {
    Fail(state, index.status());
    return;
  }
  BlockLengths lengths;
  uint32_t map = 0;
  for (auto _ : state) {
    Index::Batch batch;
    for (uint32_t c = 0; c < commits; ++c) {
      AddCommit(map++, blocks, lengths, batch);
    }
    if (absl::Status status = (*index)->Write(batch, /*sync=*/true); !status.ok()) {
      Fail(state, status);
      break;
    }
  }
  const auto commits_done = static_cast<double>(state.iterations() * commits);
  state.SetItemsProcessed(static_cast<int64_t>(commits_done) * blocks);  // blocks
  state.counters["commits"] = benchmark::Counter(commits_done, benchmark::Counter::kIsRate);
}
BENCHMARK(IndexCommit)
    ->ArgNames({"blocks", "commits"})
    ->Args({1, 1})
    ->Args({64, 1})
    ->Args({1024, 1})
    ->Args({64, 16})
    ->UseRealTime();

// ---- Scan -------------------------------------------------------------------------------------

constexpr uint32_t kScanPartitions = 8;

// An index holding one shuffle of `maps` maps, each with one ~4 KiB block in every partition,
// aggregated into extents of `blocks_per_extent` blocks laid out as the segment file holds them
// (partitions interleaved). Built once per benchmark instance and kept across its runs.
struct ScanIndex {
  uint32_t maps = 0;
  uint32_t blocks_per_extent = 0;
  // Declared before the index so it is removed after the index is closed.
  TempDir dir;
  std::unique_ptr<Index> index;
};
std::unique_ptr<ScanIndex> scan_index;  // released by main() before exit

absl::Status FillScanIndex(uint32_t maps, uint32_t blocks_per_extent, Index& index) {
  BlockLengths lengths;
  Index::Batch batch;
  uint64_t offset = 0;
  for (uint32_t first = 0; first < maps; first += blocks_per_extent) {
    for (uint32_t p = 0; p < kScanPartitions; ++p) {
      ExtentRecord extent{
          .handle = kHandle, .partition = p, .dir = 0, .offset = offset, .length = 0, .blocks = {}};
      for (uint32_t map = first; map < maps && map < first + blocks_per_extent; ++map) {
        const uint32_t length = lengths.Next();
        extent.blocks.push_back(BlockEntry{.map = map,
                                           .attempt = kAttempt,
                                           .epoch = kEpoch,
                                           .seq = p,
                                           .partition = p,
                                           .length = length});
        extent.length += length;
      }
      offset += AlignUp(extent.length);
      batch.PutExtent(extent);
    }
    if (batch.count() >= 4096) {
      SHUFFLE_RETURN_IF_ERROR(index.Write(batch, /*sync=*/false));
      batch.Clear();
    }
  }
  SHUFFLE_RETURN_IF_ERROR(index.Write(batch, /*sync=*/false));
  // Scans then read SST files, as after a restart or once the memtable has been flushed.
  return index.Flush();
}

absl::Status PrepareScanIndex(uint32_t maps, uint32_t blocks_per_extent) {
  if (scan_index != nullptr && scan_index->maps == maps &&
      scan_index->blocks_per_extent == blocks_per_extent) {
    return absl::OkStatus();
  }
  scan_index.reset();
  SHUFFLE_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("storage_bench"));
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, Index::Open(dir.path() + "/index"));
  SHUFFLE_RETURN_IF_ERROR(FillScanIndex(maps, blocks_per_extent, *index));
  scan_index = std::make_unique<ScanIndex>(ScanIndex{.maps = maps,
                                                     .blocks_per_extent = blocks_per_extent,
                                                     .dir = std::move(dir),
                                                     .index = std::move(index)});
  return absl::OkStatus();
}

// Args: maps, blocks per extent (256: 1 MiB extents, as aggregation writes them; 1: an extent per
// block), partitions per scan. Each iteration scans the next range of the 8 partitions.
void IndexScanExtents(benchmark::State& state) {
  const auto width = static_cast<uint32_t>(state.range(2));
  if (absl::Status status = PrepareScanIndex(static_cast<uint32_t>(state.range(0)),
                                             static_cast<uint32_t>(state.range(1)));
      !status.ok()) {
    Fail(state, status);
    return;
  }
  uint32_t begin = 0;
  int64_t blocks = 0;
  int64_t extents = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<ExtentRecord>> scanned =
        scan_index->index->ScanExtents(kHandle, begin, begin + width);
    if (!scanned.ok()) {
      Fail(state, scanned.status());
      break;
    }
    extents += static_cast<int64_t>(scanned->size());
    for (const ExtentRecord& extent : *scanned) {
      blocks += static_cast<int64_t>(extent.blocks.size());
    }
    begin = begin + width + width <= kScanPartitions ? begin + width : 0;
  }
  state.SetItemsProcessed(blocks);
  state.counters["extents_per_scan"] =
      benchmark::Counter(static_cast<double>(extents), benchmark::Counter::kAvgIterations);
}
BENCHMARK(IndexScanExtents)
    ->ArgNames({"maps", "blocks_per_extent", "partitions"})
    ->Args({1000, 256, 1})
    ->Args({10000, 256, 1})
    ->Args({1000, 1, 1})
    ->Args({10000, 1, 1})
    ->Args({10000, 256, 8});

// ---- Read planning ----------------------------------------------------------------------------

// One partition's extents: `maps` maps with one ~4 KiB block each, `blocks_per_extent` blocks
// per extent; with `contiguous` the extents lie back to back in the file (flushed one after the
// other), otherwise the 7 other partitions' extents lie between them.
std::vector<ExtentRecord> PartitionExtents(uint32_t maps, uint32_t blocks_per_extent,
                                           bool contiguous) {
  BlockLengths lengths;
  std::vector<ExtentRecord> extents;
  uint64_t offset = 0;
  for (uint32_t first = 0; first < maps; first += blocks_per_extent) {
    ExtentRecord extent{
        .handle = kHandle, .partition = 0, .dir = 0, .offset = offset, .length = 0, .blocks = {}};
    for (uint32_t map = first; map < maps && map < first + blocks_per_extent; ++map) {
      const uint32_t length = lengths.Next();
      extent.blocks.push_back(BlockEntry{.map = map,
                                         .attempt = kAttempt,
                                         .epoch = kEpoch,
                                         .seq = 0,
                                         .partition = 0,
                                         .length = length});
      extent.length += length;
    }
    offset += AlignUp(extent.length) * (contiguous ? 1 : kScanPartitions);
    extents.push_back(std::move(extent));
  }
  return extents;
}

// Args: maps, blocks per extent, contiguous (0 or 1). Plans with the engine's defaults
// (max_read_bytes 8 MiB, no gap allowed), as StorageEngine reads do.
void ReadPlan(benchmark::State& state) {
  const auto maps = static_cast<uint32_t>(state.range(0));
  const std::vector<ExtentRecord> extents =
      PartitionExtents(maps, static_cast<uint32_t>(state.range(1)), state.range(2) != 0);
  storage::WinnerMap winners;
  for (uint32_t map = 0; map < maps; ++map) {
    winners[map] = {kAttempt, kEpoch};
  }
  const uint64_t max_read_bytes = storage::EngineOptions().max_read_bytes;
  std::vector<storage::ReadRange> ranges;
  for (auto _ : state) {
    ranges = storage::PlanReads(extents, winners, max_read_bytes);
    benchmark::DoNotOptimize(ranges.data());
  }
  uint64_t served_bytes = 0;
  uint64_t read_bytes = 0;
  for (const storage::ReadRange& range : ranges) {
    read_bytes += range.length;
    for (const storage::ReadRange::Slice& slice : range.slices) {
      served_bytes += slice.entry.length;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * maps);  // blocks
  state.counters["reads_per_MiB"] =
      static_cast<double>(ranges.size()) / (static_cast<double>(served_bytes) / kMiB);
  // Bytes read per byte served: the alignment padding read along.
  state.counters["read_amplification"] =
      static_cast<double>(read_bytes) / static_cast<double>(served_bytes);
}
BENCHMARK(ReadPlan)
    ->ArgNames({"maps", "blocks_per_extent", "contiguous"})
    ->Args({2000, 256, 0})
    ->Args({10000, 256, 0})
    ->Args({2000, 16, 0})
    ->Args({2000, 1, 0})
    ->Args({2000, 1, 1});

}  // namespace
}  // namespace shuffle::bench

int main(int argc, char** argv) {
  const int status = shuffle::bench::RunBenchmarks(argc, argv);
  // Close the shared index before static destructors run (RocksDB's Env is one of them).
  shuffle::bench::scan_index.reset();
  return status;
}
