#include "shuffle-server/storage/catalog.h"

#include <memory>

#include "gtest/gtest.h"

namespace shuffle::storage {
namespace {

using core::AttemptId;
using core::MapId;
using Kind = Catalog::CommitVerdict::Kind;

const ShuffleKey kKey{core::AppId("app"), core::ShuffleId(3)};

class CatalogTest : public ::testing::Test {
 protected:
  CatalogTest() : catalog_(options_) {}
  void SetUp() override {
    options_.namespace_quota_bytes["small"] = 100;
    shuffle_ = std::make_shared<ShuffleState>();
    shuffle_->record.app_id = "app";
    shuffle_->record.shuffle_id = 3;
    shuffle_->record.namespace_name = "small";
    shuffle_->record.num_partitions = 2;
    catalog_.Add(kKey, shuffle_);
  }
  CommitRequest Request(uint32_t map, uint32_t attempt, uint64_t blocks, uint64_t bytes) {
    return CommitRequest{.map = MapId(map),
                         .attempt = AttemptId(attempt),
                         .num_partitions = 2,
                         .expected_blocks = blocks,
                         .expected_bytes = bytes};
  }

  EngineOptions options_;
  Catalog catalog_;
  ShufflePtr shuffle_;
};

TEST_F(CatalogTest, FindAddRemoveAndNamespaceBytes) {
  EXPECT_EQ(catalog_.Find(kKey), shuffle_);
  catalog_.Charge(*shuffle_, 60);
  EXPECT_EQ(catalog_.namespace_bytes().at("small"), 60u);
  EXPECT_TRUE(catalog_.CheckQuota(*shuffle_, 40).ok());
  EXPECT_EQ(catalog_.CheckQuota(*shuffle_, 41).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(QuotaOf(options_, "small"), 100u);
  EXPECT_EQ(QuotaOf(options_, "other"), 0u);
  EXPECT_EQ(catalog_.Remove(kKey), shuffle_);
  EXPECT_TRUE(shuffle_->removed);
  EXPECT_EQ(catalog_.namespace_bytes().at("small"), 0u);
  EXPECT_EQ(catalog_.Find(kKey), nullptr);
  EXPECT_EQ(catalog_.Remove(kKey), nullptr);
}

TEST_F(CatalogTest, HandlesAreNeverReused) {
  const uint64_t first = catalog_.AllocateHandle();
  EXPECT_EQ(catalog_.AllocateHandle(), first + 1);
  catalog_.SetNextHandle(50);
  EXPECT_EQ(catalog_.AllocateHandle(), 50u);
}

TEST_F(CatalogTest, PushesOfACommittedMapOrAnAbortedOrCommittingAttemptAreRefused) {
  auto state = Catalog::AttemptForPush(*shuffle_, MapId(1), AttemptId(0));
  ASSERT_TRUE(state.ok());
  (*state)->committing = true;
  EXPECT_EQ(Catalog::AttemptForPush(*shuffle_, MapId(1), AttemptId(0)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  (*state)->committing = false;
  (*state)->failure = absl::DataLossError("extent write failed");
  EXPECT_EQ(Catalog::AttemptForPush(*shuffle_, MapId(1), AttemptId(0)).status().code(),
            absl::StatusCode::kDataLoss);
  shuffle_->winners[1] = CommitRecord{
      .handle = 0, .map = 1, .attempt = 4, .epoch = 0, .num_partitions = 2, .partitions = {}};
  EXPECT_EQ(Catalog::CheckNotCommitted(*shuffle_, MapId(1), AttemptId(0)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Catalog::CheckNotCommitted(*shuffle_, MapId(2), AttemptId(0)).ok());
}

TEST_F(CatalogTest, TheFirstCommittedAttemptWins) {
  shuffle_->winners[7] = CommitRecord{
      .handle = 0, .map = 7, .attempt = 2, .epoch = 0, .num_partitions = 2, .partitions = {}};
  Catalog::CommitVerdict same = Catalog::JudgeCommit(*shuffle_, Request(7, 2, 0, 0), false);
  ASSERT_EQ(same.kind, Kind::kDone);
  EXPECT_TRUE(same.result->won);
  Catalog::CommitVerdict other = Catalog::JudgeCommit(*shuffle_, Request(7, 3, 0, 0), false);
  ASSERT_EQ(other.kind, Kind::kDone);
  EXPECT_FALSE(other.result->won);
  EXPECT_EQ(other.result->winner.attempt, 2u);
}

TEST_F(CatalogTest, CommitVerdicts) {
  EXPECT_EQ(Catalog::JudgeCommit(*shuffle_, Request(1, 0, 0, 0), true).kind, Kind::kWait);
  CommitRequest wrong = Request(1, 0, 0, 0);
  wrong.num_partitions = 5;
  EXPECT_EQ(Catalog::JudgeCommit(*shuffle_, wrong, false).result.status().code(),
            absl::StatusCode::kInvalidArgument);
  AttemptState& state = shuffle_->attempts[AttemptKey(1, 0)];
  state.blocks = 2;
  state.bytes = 30;
  EXPECT_EQ(Catalog::JudgeCommit(*shuffle_, Request(1, 0, 3, 30), false).result.status().code(),
            absl::StatusCode::kAborted);  // pushes lost
  Catalog::CommitVerdict ok = Catalog::JudgeCommit(*shuffle_, Request(1, 0, 2, 30), false);
  EXPECT_EQ(ok.kind, Kind::kProceed);
  EXPECT_EQ(ok.attempt, &state);
  Catalog::CommitVerdict empty = Catalog::JudgeCommit(*shuffle_, Request(9, 0, 0, 0), false);
  EXPECT_EQ(empty.kind, Kind::kProceed);  // an attempt that pushed nothing commits nothing
  EXPECT_EQ(empty.attempt, nullptr);
  shuffle_->removed = true;
  EXPECT_EQ(Catalog::JudgeCommit(*shuffle_, Request(1, 0, 2, 30), false).result.status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace shuffle::storage
