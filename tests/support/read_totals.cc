#include "tests/support/read_totals.h"

#include <string_view>

namespace shuffle::testsupport {

absl::StatusOr<ReadTotals> ReadToEnd(client::PartitionReader& reader) {
  ReadTotals totals;
  std::string_view key;
  std::string_view value;
  for (;;) {
    absl::StatusOr<bool> next = reader.Next(&key, &value);
    if (!next.ok()) {
      return next.status();
    }
    if (!*next) {
      return totals;
    }
    ++totals.records;
    totals.value_bytes += value.size();
  }
}

absl::StatusOr<std::multiset<std::string>> ReadBlocks(client::PartitionReader& reader) {
  std::multiset<std::string> blocks;
  std::string_view raw;
  for (;;) {
    absl::StatusOr<bool> next = reader.NextBlock(&raw);
    if (!next.ok()) {
      return next.status();
    }
    if (!*next) {
      return blocks;
    }
    blocks.emplace(raw);
  }
}

}  // namespace shuffle::testsupport
