#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "driver/jobs/job.h"
#include "driver/jobs/sort_job.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shuffle::jobs {
namespace {

using ::testing::HasSubstr;

using Table = std::vector<std::vector<std::pair<std::string, std::string>>>;

class TableSink : public RecordSink {
 public:
  explicit TableSink(Table* table) : table_(table) {}
  absl::Status Emit(core::PartitionId p, std::string_view key, std::string_view value) override {
    (*table_)[p.value()].emplace_back(std::string(key), std::string(value));
    return absl::OkStatus();
  }

 private:
  Table* table_;
};

class RowsSource : public RecordSource {
 public:
  explicit RowsSource(const std::vector<std::pair<std::string, std::string>>* rows) : rows_(rows) {}
  absl::StatusOr<bool> Next(std::string_view* key, std::string_view* value) override {
    if (next_ == rows_->size()) {
      return false;
    }
    *key = (*rows_)[next_].first;
    *value = (*rows_)[next_].second;
    ++next_;
    return true;
  }

 private:
  const std::vector<std::pair<std::string, std::string>>* rows_;
  size_t next_ = 0;
};

Table RunMaps(const Job& job) {
  Table table(job.num_partitions());
  TableSink sink(&table);
  for (uint32_t m = 0; m < job.num_maps(); ++m) {
    EXPECT_TRUE(job.RunMap(core::MapId(m), sink).ok());
  }
  return table;
}

absl::StatusOr<std::vector<std::string>> RunReduces(const Job& job, const Table& table) {
  std::vector<std::string> summaries;
  for (uint32_t p = 0; p < job.num_partitions(); ++p) {
    RowsSource source(&table[p]);
    absl::StatusOr<std::string> s = job.RunReduce(core::PartitionId(p), source);
    if (!s.ok()) {
      return s.status();
    }
    summaries.push_back(*std::move(s));
  }
  return summaries;
}

class JobsTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<Job> MakeJob(uint64_t seed = 7) {
    auto job = Job::FromSpec(Job::MakeSpec(GetParam(), seed, 6, 5, 2000));
    EXPECT_TRUE(job.ok()) << job.status();
    return *std::move(job);
  }
};

TEST_P(JobsTest, ValidatesWhateverTheArrivalOrder) {
  auto job = MakeJob();
  Table table = RunMaps(*job);
  for (auto& rows : table) {
    std::reverse(rows.begin(), rows.end());
  }
  auto summaries = RunReduces(*job, table);
  ASSERT_TRUE(summaries.ok()) << summaries.status();
  EXPECT_TRUE(job->Validate(*summaries).ok()) << job->Validate(*summaries);
}

TEST_P(JobsTest, AMissingRecordFailsValidation) {
  auto job = MakeJob();
  Table table = RunMaps(*job);
  auto it = std::find_if(table.begin(), table.end(), [](const auto& r) { return !r.empty(); });
  ASSERT_NE(it, table.end());
  it->pop_back();
  auto summaries = RunReduces(*job, table);
  ASSERT_TRUE(summaries.ok());
  absl::Status st = job->Validate(*summaries);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("partition " + std::to_string(it - table.begin())));
}

TEST_P(JobsTest, AMapServedTwiceFailsValidation) {
  auto job = MakeJob();
  Table table = RunMaps(*job);
  TableSink sink(&table);
  ASSERT_TRUE(job->RunMap(core::MapId(3), sink).ok());
  auto summaries = RunReduces(*job, table);
  ASSERT_TRUE(summaries.ok());
  EXPECT_EQ(job->Validate(*summaries).code(), absl::StatusCode::kDataLoss);
}

TEST_P(JobsTest, ARecordInTheWrongPartitionIsDataLoss) {
  auto job = MakeJob();
  Table table = RunMaps(*job);
  table[1].push_back(table[0].front());
  RowsSource source(&table[1]);
  EXPECT_EQ(job->RunReduce(core::PartitionId(1), source).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_P(JobsTest, AnotherSeedGivesOtherDataThatDoesNotValidate) {
  auto job = MakeJob(7);
  auto other = MakeJob(8);
  auto summaries = RunReduces(*other, RunMaps(*other));
  ASSERT_TRUE(summaries.ok());
  EXPECT_FALSE(job->Validate(*summaries).ok());
}

INSTANTIATE_TEST_SUITE_P(AllJobs, JobsTest, ::testing::Values("sort", "wordcount", "groupby"));

TEST(SortJobTest, PartitionsAreKeyRangesInOrder) {
  SortJob job(Job::MakeSpec("sort", 1, 1, 4, 1));
  EXPECT_EQ(job.PartitionOf(std::string("\x00\x00\x00\x00", 4)), 0u);
  EXPECT_EQ(job.PartitionOf(std::string("\x40\x00\x00\x00", 4)), 1u);
  EXPECT_EQ(job.PartitionOf("\xff\xff\xff\xff"), 3u);
}

TEST(SortJobTest, SwappedPartitionsAreOutOfOrder) {
  auto job = Job::FromSpec(Job::MakeSpec("sort", 3, 4, 4, 500));
  ASSERT_TRUE(job.ok());
  Table table = RunMaps(**job);
  auto summaries = RunReduces(**job, table);
  ASSERT_TRUE(summaries.ok());
  std::swap((*summaries)[1], (*summaries)[2]);
  EXPECT_EQ((*job)->Validate(*summaries).code(), absl::StatusCode::kDataLoss);
}

TEST(JobSpecTest, UnknownKindsAndEmptyJobsAreRefused) {
  EXPECT_THAT(Job::FromSpec(Job::MakeSpec("join", 1, 1, 1, 1)).status().message(),
              HasSubstr("unknown job kind \"join\""));
  EXPECT_EQ(Job::FromSpec(Job::MakeSpec("sort", 1, 0, 1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shuffle::jobs
