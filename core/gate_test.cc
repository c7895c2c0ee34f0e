#include "shuffle/core/gate.h"

#include <thread>

#include <gtest/gtest.h>

namespace shuffle::core {
namespace {

TEST(GateTest, CountsPassesAndRefusesOnceClosed) {
  Gate gate;
  EXPECT_TRUE(gate.AwaitIdle(absl::Now()));
  {
    Gate::Pass held = gate.Hold();
    std::optional<Gate::Pass> entered = gate.TryEnter();
    ASSERT_TRUE(entered.has_value());
    EXPECT_EQ(gate.in_flight(), 2);
    Gate::Pass moved = std::move(*entered);
    entered.reset();
    EXPECT_EQ(gate.in_flight(), 2);
    gate.Close();
    EXPECT_TRUE(gate.closed());
    EXPECT_FALSE(gate.TryEnter().has_value());
    Gate::Pass anyway = gate.Hold();  // accepted work is counted even when closed
    EXPECT_EQ(gate.in_flight(), 3);
    EXPECT_FALSE(gate.AwaitIdle(absl::Now() + absl::Milliseconds(10)));
  }
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_TRUE(gate.AwaitIdle(absl::Now()));
}

TEST(GateTest, AwaitIdleWakesWhenTheLastOperationLeaves) {
  Gate gate;
  gate.Enter();
  std::thread leaver([&gate] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.Leave();
  });
  EXPECT_TRUE(gate.AwaitIdle(absl::Now() + absl::Seconds(30)));
  EXPECT_EQ(gate.in_flight(), 0);
  leaver.join();
}

}  // namespace
}  // namespace shuffle::core
