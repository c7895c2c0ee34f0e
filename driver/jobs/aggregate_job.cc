#include "driver/jobs/aggregate_job.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/checksum.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::jobs {
namespace {

constexpr uint64_t kVocabulary = 20000;
constexpr uint64_t kGroups = 5000;

struct Aggregate {
  uint64_t count = 0;
  uint64_t sum = 0;
  uint64_t min = UINT64_MAX;
  uint64_t max = 0;
  void Add(uint64_t v) {
    ++count;
    sum += v;
    min = std::min(min, v);
    max = std::max(max, v);
  }
};

// Sorted lines "key count sum min max\n": one canonical text for a partition's result.
std::string Summarise(const std::map<std::string, Aggregate, std::less<>>& by_key) {
  std::string out;
  for (const auto& [key, a] : by_key) {
    absl::StrAppend(&out, key, " ", a.count, " ", a.sum, " ", a.min, " ", a.max, "\n");
  }
  return out;
}

std::string Word(uint64_t index) {
  std::string w = "w";
  do {
    w.push_back(static_cast<char>('a' + index % 26));
    index /= 26;
  } while (index > 0);
  return w;
}

// The first line where two summaries differ, for the error message.
std::string FirstDifference(std::string_view got, std::string_view want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) {
    ++i;
  }
  auto line_at = [i](std::string_view s) {
    const size_t begin = s.rfind('\n', i == 0 ? 0 : i - 1);
    const size_t from = (begin == std::string_view::npos || i == 0) ? 0 : begin + 1;
    return std::string(s.substr(from, s.find('\n', from) - from));
  };
  return absl::StrCat("got \"", line_at(got), "\", expected \"", line_at(want), "\"");
}

}  // namespace

uint32_t AggregateJob::PartitionOf(std::string_view key) const {
  return static_cast<uint32_t>(core::Checksum64(key) % num_partitions());
}

uint64_t AggregateJob::input_bytes() const {
  return static_cast<uint64_t>(num_maps()) * spec().records_per_map() * 16;
}

void AggregateJob::ForEachInputRow(
    uint32_t map, const std::function<void(std::string_view, uint64_t)>& row) const {
  const uint64_t first = static_cast<uint64_t>(map) * spec().records_per_map();
  for (uint64_t i = first; i < first + spec().records_per_map(); ++i) {
    const uint64_t r = RandomAt(spec().seed(), i);
    if (kind_ == Kind::kWordCount) {
      // Skewed: the square of a uniform draw favours low word indices.
      const uint64_t u = (r >> 32) % kVocabulary;
      row(Word(u * u / kVocabulary), 1);
    } else {
      row(absl::StrCat("g", r % kGroups), (r >> 32) % 1000);
    }
  }
}

absl::Status AggregateJob::RunMap(core::MapId map, RecordSink& out) const {
  if (kind_ == Kind::kGroupBy) {
    absl::Status st;
    ForEachInputRow(map.value(), [&](std::string_view key, uint64_t amount) {
      if (st.ok()) {
        st = out.Emit(core::PartitionId(PartitionOf(key)), key, absl::StrCat(amount));
      }
    });
    return st;
  }
  absl::flat_hash_map<std::string, uint64_t> counts;
  ForEachInputRow(map.value(),
                  [&](std::string_view word, uint64_t n) { counts[std::string(word)] += n; });
  for (const auto& [word, n] : counts) {
    SHUFFLE_RETURN_IF_ERROR(out.Emit(core::PartitionId(PartitionOf(word)), word, absl::StrCat(n)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AggregateJob::RunReduce(core::PartitionId partition,
                                                    RecordSource& in) const {
  std::map<std::string, Aggregate, std::less<>> by_key;
  std::string_view key;
  std::string_view value;
  for (;;) {
    SHUFFLE_ASSIGN_OR_RETURN(bool has, in.Next(&key, &value));
    if (!has) {
      break;
    }
    uint64_t v = 0;
    if (!absl::SimpleAtoi(core::ToAbsl(value), &v) || PartitionOf(key) != partition.value()) {
      return absl::DataLossError(absl::StrCat("partition ", partition.value(), ": record \"",
                                              core::ToAbsl(key), "\" -> \"", core::ToAbsl(value),
                                              "\" is not a record of this partition"));
    }
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      it = by_key.emplace(std::string(key), Aggregate{}).first;
    }
    it->second.Add(v);
  }
  return Summarise(by_key);
}

absl::Status AggregateJob::Validate(const std::vector<std::string>& summaries) const {
  if (summaries.size() != num_partitions()) {
    return absl::DataLossError(absl::StrCat(summaries.size(), " partition summaries for ",
                                            num_partitions(), " partitions"));
  }
  std::vector<std::map<std::string, Aggregate, std::less<>>> expected(num_partitions());
  for (uint32_t m = 0; m < num_maps(); ++m) {
    // Word count combines per map, so a word's record count is the number of maps it is in.
    absl::flat_hash_map<std::string, uint64_t> per_map;
    ForEachInputRow(m, [&](std::string_view key, uint64_t v) {
      if (kind_ == Kind::kWordCount) {
        per_map[std::string(key)] += v;
      } else {
        expected[PartitionOf(key)][std::string(key)].Add(v);
      }
    });
    for (const auto& [word, n] : per_map) {
      expected[PartitionOf(word)][word].Add(n);
    }
  }
  for (uint32_t p = 0; p < num_partitions(); ++p) {
    const std::string want = Summarise(expected[p]);
    if (summaries[p] != want) {
      return absl::DataLossError(
          absl::StrCat(spec().kind(), " partition ", p, ": ", FirstDifference(summaries[p], want)));
    }
  }
  return absl::OkStatus();
}

}  // namespace shuffle::jobs
