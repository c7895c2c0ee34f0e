// ReadToEnd: reads a PartitionReader to its end and counts what it delivered, for tests that
// check how many records (and value bytes) came back; ReadBlocks: the same, keeping every raw
// block, for tests that compare them with what was written. Thread-compatible (one reader, one
// caller).
#ifndef SHUFFLE_TESTS_SUPPORT_READ_TOTALS_H_
#define SHUFFLE_TESTS_SUPPORT_READ_TOTALS_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "shuffle/client/partition_reader.h"

namespace shuffle::testsupport {

struct ReadTotals {
  uint64_t records = 0;
  uint64_t value_bytes = 0;
};

// The records and value bytes `reader` delivers from where it is to its end; the reader's first
// error, if any.
absl::StatusOr<ReadTotals> ReadToEnd(client::PartitionReader& reader);

// Every raw block (PartitionReader::NextBlock) `reader` delivers from where it is to its end;
// the reader's first error, if any.
absl::StatusOr<std::multiset<std::string>> ReadBlocks(client::PartitionReader& reader);

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_READ_TOTALS_H_
