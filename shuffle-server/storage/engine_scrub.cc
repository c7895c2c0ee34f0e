// Scrubbing: read every block of a shuffle's committed attempts back from disk and verify its
// checksum, reporting each corrupt or unreadable block by map, attempt, partition, sequence
// number, file and offset.
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle/core/block.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

using core::Kv;

namespace {

void Record(CorruptBlock corrupt, ScrubReport* report) {
  ++report->corrupt_blocks;
  if (report->corrupt.size() < kMaxListedCorruptBlocks) {
    report->corrupt.push_back(std::move(corrupt));
  }
}

// Checks the blocks of one read range: each one's checksum, or all of them as unreadable when
// the read failed.
void CheckRange(const ReadRange& range, const char* data, const absl::Status& read,
                const std::string& path, ScrubReport* report) {
  for (const ReadRange::Slice& slice : range.slices) {
    ++report->blocks_checked;
    report->bytes_checked += slice.entry.length;
    absl::Status status = read;
    if (status.ok()) {
      status = core::VerifyBlock(std::string_view(data + slice.offset, slice.entry.length));
    }
    if (!status.ok()) {
      Record(CorruptBlock{.block = slice.entry,
                          .path = path,
                          .offset = range.offset + slice.offset,
                          .error = std::string(status.message())},
             report);
    }
  }
}

// Under one lock: the winners (committed maps) to check, the segment files, and the blocks and
// bytes their commit records promise. Maps committed later are left out of both.
void Snapshot(StorageEngine::Impl& impl, const ShuffleState& shuffle, WinnerMap* winners,
              std::vector<File*>* files, ScrubReport* report) {
  absl::MutexLock lock(&impl.mu);
  report->maps = shuffle.winners.size();
  for (const auto& [map, record] : shuffle.winners) {
    (*winners)[map] = {record.attempt, record.epoch};
    for (const PartitionTotal& total : record.partitions) {
      report->expected_blocks += total.blocks;
      report->expected_bytes += total.bytes;
    }
  }
  for (uint32_t d = 0; d < shuffle.segments.dirs(); ++d) {
    files->push_back(shuffle.segments.file(d).file.get());
  }
}

void LogScrub(const ShuffleKey& key, const ScrubReport& report) {
  SHUFFLE_LOG(INFO) << "scrubbed shuffle" << Kv("shuffle", DescribeKey(key))
                    << Kv("maps", report.maps) << Kv("blocks", report.blocks_checked)
                    << Kv("expected_blocks", report.expected_blocks)
                    << Kv("bytes", report.bytes_checked)
                    << Kv("corrupt_blocks", report.corrupt_blocks);
  if (report.corrupt_blocks > 0 || report.blocks_checked != report.expected_blocks) {
    SHUFFLE_LOG(WARNING) << "scrub found damaged shuffle data" << Kv("shuffle", DescribeKey(key))
                         << Kv("corrupt_blocks", report.corrupt_blocks)
                         << Kv("missing_blocks", static_cast<int64_t>(report.expected_blocks) -
                                                     static_cast<int64_t>(report.blocks_checked));
  }
}

}  // namespace

absl::StatusOr<ScrubReport> StorageEngine::Scrub(const ShuffleKey& key) {
  Impl& impl = *impl_;
  ShufflePtr shuffle;
  {
    absl::MutexLock lock(&impl.mu);
    shuffle = impl.catalog.Find(key);  // not activity: scrubs must not keep an idle app alive
  }
  if (shuffle == nullptr) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " is not registered"));
  }
  // Winners first: the flush then writes out every block they have in memory.
  ScrubReport report;
  WinnerMap winners;
  std::vector<File*> files;
  Snapshot(impl, *shuffle, &winners, &files, &report);
  const uint32_t partitions = shuffle->record.num_partitions;
  SHUFFLE_RETURN_IF_ERROR(core::Annotate(
      impl.FlushAndWait(shuffle, 0, partitions, /*everything=*/false, &winners), "scrub"));
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<ExtentRecord> extents,
                           impl.index->ScanExtents(shuffle->record.handle, 0, partitions));
  const std::vector<ReadRange> ranges = PlanReads(extents, winners, impl.options.max_read_bytes);
  SHUFFLE_RETURN_IF_ERROR(impl.ReadRanges(
      ranges, files,
      [&](std::span<const ReadRange> batch, const std::vector<AlignedBuffer>& buffers,
          const std::vector<absl::Status>& results) {
        for (size_t r = 0; r < batch.size(); ++r) {
          CheckRange(batch[r], buffers[r].data(), results[r],
                     impl.layout.SegmentPath(batch[r].dir, shuffle->record.handle), &report);
        }
        return absl::OkStatus();
      }));
  {
    absl::MutexLock lock(&impl.mu);
    ++impl.stats.scrubs;
    impl.stats.scrub_blocks += report.blocks_checked;
    impl.stats.scrub_bytes += report.bytes_checked;
    impl.stats.scrub_corrupt_blocks += report.corrupt_blocks;
  }
  LogScrub(key, report);
  return report;
}

}  // namespace shuffle::storage
