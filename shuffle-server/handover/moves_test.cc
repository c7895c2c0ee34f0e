#include "shuffle-server/handover/moves.h"

#include <gtest/gtest.h>

namespace shuffle::handover {
namespace {

MovedOutput Moved(const std::string& app, uint32_t map, const std::string& to) {
  MovedOutput m;
  m.app_id = app;
  m.status.shuffle = core::ShuffleId(1);
  m.status.map = core::MapId(map);
  m.status.address = to;
  return m;
}

TEST(MoveLedgerTest, ServesEachApplicationItsOwnMovesWhereTheyWentLast) {
  MoveLedger ledger;
  EXPECT_EQ(ledger.ForApp("a").state, MoveLedger::State::kNone);
  ledger.Start();
  EXPECT_EQ(ledger.ForApp("a").state, MoveLedger::State::kRunning);
  HandOverReport first;
  first.moved = {Moved("a", 0, "p1"), Moved("a", 1, "p1"), Moved("b", 0, "p2")};
  UnmovedOutput unmoved;
  unmoved.app_id = "b";
  unmoved.map = core::MapId(1);
  first.unmoved = {unmoved};
  ledger.Record(first);
  MoveLedger::AppMoves a = ledger.ForApp("a");
  EXPECT_EQ(a.state, MoveLedger::State::kDone);
  ASSERT_EQ(a.moved.size(), 2u);
  EXPECT_TRUE(a.unmoved.empty());
  EXPECT_EQ(ledger.ForApp("b").unmoved.size(), 1u);
  EXPECT_EQ(ledger.ForApp("").moved.size(), 3u);

  ledger.Start();
  HandOverReport second;
  second.moved = {Moved("a", 1, "p3")};
  ledger.Record(second);
  a = ledger.ForApp("a");
  ASSERT_EQ(a.moved.size(), 2u);
  EXPECT_EQ(a.moved[0].status.address, "p1");
  EXPECT_EQ(a.moved[1].status.address, "p3");
}

}  // namespace
}  // namespace shuffle::handover
