#include "shuffle/core/ids.h"

#include <sstream>
#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

static_assert(!std::is_convertible_v<MapId, PartitionId>, "ids must not mix");
static_assert(!std::is_convertible_v<uint32_t, MapId>, "construction must be explicit");
static_assert(std::is_trivially_copyable_v<ShuffleId>);

TEST(IdsTest, CompareHashAndPrint) {
  EXPECT_LT(MapId(3), MapId(4));
  EXPECT_EQ(PartitionId(7), PartitionId(7));
  absl::flat_hash_set<MapId> set = {MapId(1), MapId(2), MapId(1)};
  EXPECT_EQ(set.size(), 2u);
  std::ostringstream os;
  os << ShuffleId(42) << "/" << AppId("app-1");
  EXPECT_EQ(os.str(), "42/app-1");
}

}  // namespace
}  // namespace shuffle::core
