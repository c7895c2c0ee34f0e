// Fuzzes client::MapStatus::Parse on arbitrary bytes (the driver receives them from executors):
// a status that parses must serialize and parse back to the same value, and its totals must be
// computable without undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shuffle/client/map_status.h"
#include "tests/fuzz/fuzz_util.h"

namespace shuffle::fuzz {
namespace {

bool Same(const client::MapStatus& a, const client::MapStatus& b) {
  return a.node == b.node && a.address == b.address && a.shuffle == b.shuffle && a.map == b.map &&
         a.attempt == b.attempt && a.partition_bytes == b.partition_bytes &&
         a.partition_blocks == b.partition_blocks;
}

void Run(const uint8_t* data, size_t size) {
  absl::StatusOr<client::MapStatus> status =
      client::MapStatus::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!status.ok()) {
    return;
  }
  SHUFFLE_FUZZ_CHECK(status->partition_bytes.size() == status->partition_blocks.size());
  absl::StatusOr<client::MapStatus> again = client::MapStatus::Parse(status->Serialize());
  SHUFFLE_FUZZ_CHECK(again.ok());
  SHUFFLE_FUZZ_CHECK(Same(*status, *again));
  SHUFFLE_FUZZ_CHECK(again->total_bytes() == status->total_bytes());
  SHUFFLE_FUZZ_CHECK(again->total_blocks() == status->total_blocks());
}

}  // namespace
}  // namespace shuffle::fuzz

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shuffle::fuzz::Run(data, size);
  return 0;
}
