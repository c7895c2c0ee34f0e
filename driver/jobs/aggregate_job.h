// AggregateJob: the word-count and group-by reference jobs. Both shuffle (key, number) records
// hash-partitioned by key, and each reduce computes per key the count of records, their sum,
// minimum and maximum, summarised as sorted text lines "key count sum min max".
//  - word count: each map draws records_per_map words with a skewed frequency from a vocabulary
//    and emits (word, occurrences in this map) once per word (map-side combining);
//  - group-by: each map draws records_per_map (group, amount) rows and emits every row.
// Validation regenerates the raw input and aggregates it directly, without any partitioning
// beyond the partition function itself.
#ifndef SHUFFLE_DRIVER_JOBS_AGGREGATE_JOB_H_
#define SHUFFLE_DRIVER_JOBS_AGGREGATE_JOB_H_

#include <functional>

#include "driver/jobs/job.h"

namespace shuffle::jobs {

class AggregateJob final : public Job {
 public:
  enum class Kind { kWordCount, kGroupBy };
  AggregateJob(Kind kind, proto::JobSpec spec) : Job(std::move(spec)), kind_(kind) {}

  uint64_t input_bytes() const override;
  absl::Status RunMap(core::MapId map, RecordSink& out) const override;
  absl::StatusOr<std::string> RunReduce(core::PartitionId partition,
                                        RecordSource& in) const override;
  absl::Status Validate(const std::vector<std::string>& summaries) const override;

  uint32_t PartitionOf(std::string_view key) const;

 private:
  // The raw input rows of one map: (key, number), before any combining.
  void ForEachInputRow(uint32_t map,
                       const std::function<void(std::string_view, uint64_t)>& row) const;

  Kind kind_;
};

}  // namespace shuffle::jobs

#endif  // SHUFFLE_DRIVER_JOBS_AGGREGATE_JOB_H_
