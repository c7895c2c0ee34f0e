// SortJob: the TeraSort-like reference job. Each map generates records_per_map records of 100
// bytes (a 10-byte random key and a 90-byte value holding the row number and filler), range-
// partitions them by key, and each reduce sorts its partition. Validation: every partition holds
// exactly the records the generator puts there (count and an order-independent checksum), each
// partition's keys lie in its range, and partitions follow each other in key order.
#ifndef SHUFFLE_DRIVER_JOBS_SORT_JOB_H_
#define SHUFFLE_DRIVER_JOBS_SORT_JOB_H_

#include "driver/jobs/job.h"

namespace shuffle::jobs {

inline constexpr size_t kSortKeyBytes = 10;
inline constexpr size_t kSortValueBytes = 90;

class SortJob final : public Job {
 public:
  explicit SortJob(proto::JobSpec spec) : Job(std::move(spec)) {}

  uint64_t input_bytes() const override;
  absl::Status RunMap(core::MapId map, RecordSink& out) const override;
  absl::StatusOr<std::string> RunReduce(core::PartitionId partition,
                                        RecordSource& in) const override;
  absl::Status Validate(const std::vector<std::string>& summaries) const override;

  // The range partition of a key (its first 4 bytes, big-endian, scaled to the partitions).
  uint32_t PartitionOf(std::string_view key) const;
  // Row `row` of the input: key and value written to `record` (100 bytes).
  static void GenerateRecord(uint64_t seed, uint64_t row, char* record);
};

}  // namespace shuffle::jobs

#endif  // SHUFFLE_DRIVER_JOBS_SORT_JOB_H_
