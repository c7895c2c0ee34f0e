// Strong identifier types. Each id is its own type, so a MapId can never be passed where a
// PartitionId is expected, and functions never take a row of bare integers. Values are
// trivially copyable and safe to share between threads.
#ifndef SHUFFLE_CORE_IDS_H_
#define SHUFFLE_CORE_IDS_H_

#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>

namespace shuffle::core {

template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;

  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(std::move(value)) {}

  constexpr const Rep& value() const { return value_; }

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted <=>.
  friend constexpr auto operator<=>(const StrongId&, const StrongId&) = default;
  friend constexpr bool operator==(const StrongId&, const StrongId&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const StrongId& id) {
    return H::combine(std::move(h), id.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.value_; }

 private:
  Rep value_{};
};

using ShuffleId = StrongId<struct ShuffleIdTag, uint32_t>;
using MapId = StrongId<struct MapIdTag, uint32_t>;
using PartitionId = StrongId<struct PartitionIdTag, uint32_t>;
using AttemptId = StrongId<struct AttemptIdTag, uint32_t>;
using AppId = StrongId<struct AppIdTag, std::string>;

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_IDS_H_
