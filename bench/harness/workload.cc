#include "bench/harness/workload.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/core/block.h"
#include "shuffle/core/status_macros.h"
#include "tests/support/read_totals.h"

namespace shuffle::bench {
namespace {

constexpr size_t kKeyBytes = 8;

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// The value size that makes a one-record block exactly `block_bytes` long when stored raw:
// header + varint(key size) + varint(value size) + key + value.
absl::StatusOr<size_t> ValueBytesFor(uint32_t block_bytes) {
  const size_t fixed = core::kBlockHeaderSize + VarintLength(kKeyBytes) + kKeyBytes;
  for (size_t varint = 1; varint <= 5; ++varint) {
    if (block_bytes < fixed + varint) {
      break;
    }
    const size_t value = block_bytes - fixed - varint;
    if (VarintLength(value) == varint) {
      return value;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no one-record block is exactly ", block_bytes, " bytes long"));
}

// Random bytes shared by every writer (values are slices of it).
constexpr size_t kRandomBytes = 4u << 20;

const std::string& RandomBytes() {
  static const std::string* const bytes = [] {
    auto* s = new std::string(kRandomBytes, '\0');
    std::mt19937_64 random(7);
    for (size_t off = 0; off + sizeof(uint64_t) <= s->size(); off += sizeof(uint64_t)) {
      const uint64_t word = random();
      std::memcpy(s->data() + off, &word, sizeof(word));
    }
    return s;
  }();
  return *bytes;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The first error of several threads.
class FirstError {
 public:
  void Set(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.ok()) {
      status_ = status;
    }
    failed_.store(true);
  }
  bool failed() const { return failed_.load(); }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  absl::Status status_;
  std::atomic<bool> failed_{false};
};

absl::StatusOr<client::MapStatus> WriteOneMap(const client::ClientOptions& options,
                                              const client::ShuffleHandle& shuffle,
                                              const MapShape& shape, uint32_t map,
                                              std::string_view value) {
  SHUFFLE_ASSIGN_OR_RETURN(
      std::unique_ptr<client::MapOutputWriter> writer,
      client::MapOutputWriter::Open(options, shuffle, core::MapId(map), core::AttemptId(0)));
  char key[kKeyBytes];
  for (uint32_t k = 0; k < shape.blocks_per_map; ++k) {
    const uint64_t id = (uint64_t{map} << 32) | k;
    std::memcpy(key, &id, sizeof(id));
    const uint32_t partition = (map + k) % shuffle.num_partitions;
    SHUFFLE_RETURN_IF_ERROR(
        writer->Write(core::PartitionId(partition), std::string_view(key, kKeyBytes), value));
  }
  SHUFFLE_ASSIGN_OR_RETURN(client::MapOutputWriter::CommitResult result, writer->Commit());
  if (!result.won) {
    return absl::InternalError(absl::StrCat("map ", map, ": another attempt won the commit"));
  }
  return result.status;
}

}  // namespace

absl::StatusOr<WriteResult> WriteMaps(const std::string& server,
                                      const client::ShuffleHandle& shuffle, const MapShape& shape,
                                      const std::string& tls_ca_file,
                                      const std::string& replica_server) {
  SHUFFLE_ASSIGN_OR_RETURN(const size_t value_bytes, ValueBytesFor(shape.block_bytes));
  if (value_bytes > kRandomBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocks of ", shape.block_bytes, " bytes: at most ", kRandomBytes));
  }
  const std::string_view value(RandomBytes().data(), value_bytes);
  client::ClientOptions options;
  options.server = server;
  options.tls_ca_file = tls_ca_file;
  options.replica_server = replica_server;
  options.compression_level = 0;
  // One record fills a block: each Write cuts one block of exactly shape.block_bytes.
  options.block_bytes = static_cast<uint32_t>(shape.block_bytes - core::kBlockHeaderSize);
  WriteResult result;
  result.statuses.resize(shape.maps);
  std::atomic<uint32_t> next_map{0};
  FirstError error;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < std::max<uint32_t>(1, shape.concurrency); ++t) {
    threads.emplace_back([&] {
      for (uint32_t map = next_map++; map < shape.maps && !error.failed(); map = next_map++) {
        absl::StatusOr<client::MapStatus> status = WriteOneMap(options, shuffle, shape, map, value);
        if (!status.ok()) {
          error.Set(status.status());
          return;
        }
        result.statuses[map] = *std::move(status);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  result.seconds = SecondsSince(start);
  SHUFFLE_RETURN_IF_ERROR(error.status());
  for (const client::MapStatus& status : result.statuses) {
    result.bytes += status.total_bytes();
    result.blocks += status.total_blocks();
  }
  return result;
}

absl::StatusOr<FetchResult> FetchPartitions(const client::ShuffleHandle& shuffle,
                                            const std::vector<client::MapStatus>& statuses,
                                            const FetchSpec& spec) {
  std::vector<client::MapStatus> targets = statuses;
  if (!spec.server.empty()) {
    for (client::MapStatus& status : targets) {
      status.address = spec.server;
    }
  }
  const uint32_t partitions = spec.partition_end - spec.partition_begin;
  const uint32_t readers = std::max<uint32_t>(1, std::min(spec.readers, partitions));
  FirstError error;
  std::mutex mu;
  FetchResult result;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  client::ClientOptions options;
  options.tls_ca_file = spec.tls_ca_file;
  for (uint32_t r = 0; r < readers; ++r) {
    const uint32_t begin = spec.partition_begin + r * partitions / readers;
    const uint32_t end = spec.partition_begin + (r + 1) * partitions / readers;
    threads.emplace_back([&, begin, end] {
      absl::StatusOr<std::unique_ptr<client::PartitionReader>> reader =
          client::PartitionReader::Open(options, shuffle, core::PartitionId(begin),
                                        core::PartitionId(end), targets);
      if (!reader.ok()) {
        error.Set(reader.status());
        return;
      }
      if (absl::StatusOr<testsupport::ReadTotals> read = testsupport::ReadToEnd(**reader);
          !read.ok()) {
        error.Set(read.status());
        return;
      }
      const client::PartitionReader::Stats stats = (*reader)->stats();
      std::lock_guard<std::mutex> lock(mu);
      result.bytes += stats.bytes;
      result.blocks += stats.blocks;
      result.records += stats.records;
      result.retries += stats.retries;
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  result.seconds = SecondsSince(start);
  SHUFFLE_RETURN_IF_ERROR(error.status());
  return result;
}

}  // namespace shuffle::bench
