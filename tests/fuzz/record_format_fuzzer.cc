// Fuzzes client::RecordIterator on arbitrary block bytes: it must end or fail with DATA_LOSS
// without reading outside the bytes, and the records it returns, written again with
// AppendRecord, must iterate back to the same records.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shuffle-client/record_format.h"
#include "tests/fuzz/fuzz_util.h"

namespace shuffle::fuzz {
namespace {

using Records = std::vector<std::pair<std::string_view, std::string_view>>;

// The records of `raw` up to its end or its first malformed record; `*ok` says which.
Records Iterate(std::string_view raw, bool* ok) {
  Records records;
  client::RecordIterator it(raw);
  std::string_view key;
  std::string_view value;
  while (true) {
    absl::StatusOr<bool> next = it.Next(&key, &value);
    if (!next.ok()) {
      SHUFFLE_FUZZ_CHECK(absl::IsDataLoss(next.status()));
      *ok = false;
      return records;
    }
    if (!*next) {
      *ok = true;
      return records;
    }
    SHUFFLE_FUZZ_CHECK(key.data() >= raw.data() && key.data() + key.size() <= raw.end());
    SHUFFLE_FUZZ_CHECK(value.data() >= raw.data() && value.data() + value.size() <= raw.end());
    records.emplace_back(key, value);
  }
}

void Run(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  bool ok = false;
  const Records records = Iterate(raw, &ok);
  std::string again;
  for (const auto& [key, value] : records) {
    client::AppendRecord(&again, key, value);
  }
  bool again_ok = false;
  const Records reread = Iterate(again, &again_ok);
  SHUFFLE_FUZZ_CHECK(again_ok);
  SHUFFLE_FUZZ_CHECK(reread == records);
  if (ok) {
    // Canonical varints are never longer than the input's.
    SHUFFLE_FUZZ_CHECK(again.size() <= raw.size());
  }
}

}  // namespace
}  // namespace shuffle::fuzz

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shuffle::fuzz::Run(data, size);
  return 0;
}
