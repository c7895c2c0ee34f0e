#include "driver/jobs/sort_job.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/checksum.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::jobs {
namespace {

constexpr size_t kRecordBytes = kSortKeyBytes + kSortValueBytes;

// What a reduce partition holds: the summary a reduce task returns, and what Validate expects.
struct PartitionDigest {
  uint64_t count = 0;
  uint64_t checksum = 0;  // sum of the records' checksums: independent of order
  std::string first_key;
  std::string last_key;

  void Add(std::string_view record) {
    ++count;
    checksum += core::Checksum64(record);
  }
  std::string Encode() const {
    return absl::StrCat(count, " ", checksum, " ", absl::BytesToHexString(first_key), " ",
                        absl::BytesToHexString(last_key));
  }
  static absl::StatusOr<PartitionDigest> Decode(std::string_view text) {
    std::vector<std::string> parts = absl::StrSplit(core::ToAbsl(text), ' ');
    PartitionDigest d;
    if (parts.size() != 4 || !absl::SimpleAtoi(parts[0], &d.count) ||
        !absl::SimpleAtoi(parts[1], &d.checksum)) {
      return absl::DataLossError(
          absl::StrCat("malformed sort summary \"", core::ToAbsl(text), "\""));
    }
    d.first_key = absl::HexStringToBytes(parts[2]);
    d.last_key = absl::HexStringToBytes(parts[3]);
    return d;
  }
};

}  // namespace

void SortJob::GenerateRecord(uint64_t seed, uint64_t row, char* record) {
  const uint64_t a = RandomAt(seed, row * 2);
  const uint64_t b = RandomAt(seed, row * 2 + 1);
  for (int i = 0; i < 8; ++i) {
    record[i] = static_cast<char>(a >> (56 - 8 * i));
  }
  record[8] = static_cast<char>(b >> 56);
  record[9] = static_cast<char>(b >> 48);
  char* value = record + kSortKeyBytes;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int i = 0; i < 16; ++i) {
    value[i] = kHex[(row >> (60 - 4 * i)) & 0xF];
  }
  // Filler of random printable characters (6 bits each), so the data compresses about as
  // little as real rows do.
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint64_t bits = 0;
  int left = 0;
  uint64_t draw = row * 8;
  for (size_t i = 16; i < kSortValueBytes; ++i) {
    if (left == 0) {
      bits = RandomAt(seed ^ 0x5bd1e9955bd1e995ULL, draw++);
      left = 10;
    }
    value[i] = kAlphabet[bits & 63];
    bits >>= 6;
    --left;
  }
}

uint32_t SortJob::PartitionOf(std::string_view key) const {
  uint32_t prefix = 0;
  for (size_t i = 0; i < 4 && i < key.size(); ++i) {
    prefix = (prefix << 8) | static_cast<uint8_t>(key[i]);
  }
  return static_cast<uint32_t>((static_cast<uint64_t>(prefix) * num_partitions()) >> 32);
}

uint64_t SortJob::input_bytes() const {
  return static_cast<uint64_t>(num_maps()) * spec().records_per_map() * kRecordBytes;
}

absl::Status SortJob::RunMap(core::MapId map, RecordSink& out) const {
  const uint64_t first_row = static_cast<uint64_t>(map.value()) * spec().records_per_map();
  char record[kRecordBytes];
  for (uint64_t i = 0; i < spec().records_per_map(); ++i) {
    GenerateRecord(spec().seed(), first_row + i, record);
    const std::string_view key(record, kSortKeyBytes);
    SHUFFLE_RETURN_IF_ERROR(out.Emit(core::PartitionId(PartitionOf(key)), key,
                                     std::string_view(record + kSortKeyBytes, kSortValueBytes)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SortJob::RunReduce(core::PartitionId partition,
                                               RecordSource& in) const {
  std::string records;
  std::string_view key;
  std::string_view value;
  for (;;) {
    SHUFFLE_ASSIGN_OR_RETURN(bool has, in.Next(&key, &value));
    if (!has) {
      break;
    }
    if (key.size() != kSortKeyBytes || value.size() != kSortValueBytes) {
      return absl::DataLossError(absl::StrCat("sort partition ", partition.value(), ": record of ",
                                              key.size(), "+", value.size(),
                                              " bytes, expected 10+90"));
    }
    if (PartitionOf(key) != partition.value()) {
      return absl::DataLossError(absl::StrCat(
          "sort partition ", partition.value(), ": record with key ",
          absl::BytesToHexString(core::ToAbsl(key)), " belongs to partition ", PartitionOf(key)));
    }
    records.append(key.data(), key.size());
    records.append(value.data(), value.size());
  }
  const size_t n = records.size() / kRecordBytes;
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const char* base = records.data();
  std::sort(order.begin(), order.end(), [base](uint32_t x, uint32_t y) {
    return std::memcmp(base + x * kRecordBytes, base + y * kRecordBytes, kSortKeyBytes) < 0;
  });
  PartitionDigest digest;
  for (uint32_t i : order) {
    digest.Add(std::string_view(base + i * kRecordBytes, kRecordBytes));
  }
  if (n > 0) {
    digest.first_key.assign(base + order.front() * kRecordBytes, kSortKeyBytes);
    digest.last_key.assign(base + order.back() * kRecordBytes, kSortKeyBytes);
  }
  return digest.Encode();
}

absl::Status SortJob::Validate(const std::vector<std::string>& summaries) const {
  if (summaries.size() != num_partitions()) {
    return absl::DataLossError(absl::StrCat("sort: ", summaries.size(), " partition summaries for ",
                                            num_partitions(), " partitions"));
  }
  std::vector<PartitionDigest> expected(num_partitions());
  char record[kRecordBytes];
  const uint64_t rows = static_cast<uint64_t>(num_maps()) * spec().records_per_map();
  for (uint64_t row = 0; row < rows; ++row) {
    GenerateRecord(spec().seed(), row, record);
    expected[PartitionOf(std::string_view(record, kSortKeyBytes))].Add(
        std::string_view(record, kRecordBytes));
  }
  std::string previous_last;
  for (uint32_t p = 0; p < num_partitions(); ++p) {
    SHUFFLE_ASSIGN_OR_RETURN(PartitionDigest got, PartitionDigest::Decode(summaries[p]));
    if (got.count != expected[p].count || got.checksum != expected[p].checksum) {
      return absl::DataLossError(absl::StrCat(
          "sort partition ", p, ": ", got.count, " records with checksum ", got.checksum,
          ", expected ", expected[p].count, " with checksum ", expected[p].checksum));
    }
    if (got.count == 0) {
      continue;
    }
    if (got.first_key > got.last_key || got.first_key < previous_last) {
      return absl::DataLossError(absl::StrCat("sort partition ", p, ": keys out of order"));
    }
    previous_last = got.last_key;
  }
  return absl::OkStatus();
}

}  // namespace shuffle::jobs
