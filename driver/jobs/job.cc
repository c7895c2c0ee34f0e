#include "driver/jobs/job.h"

#include "absl/strings/str_cat.h"
#include "driver/jobs/aggregate_job.h"
#include "driver/jobs/sort_job.h"

namespace shuffle::jobs {

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

proto::JobSpec Job::MakeSpec(std::string_view kind, uint64_t seed, uint32_t num_maps,
                             uint32_t num_partitions, uint64_t records_per_map) {
  proto::JobSpec spec;
  spec.set_kind(std::string(kind));
  spec.set_seed(seed);
  spec.set_num_maps(num_maps);
  spec.set_num_partitions(num_partitions);
  spec.set_records_per_map(records_per_map);
  return spec;
}

absl::StatusOr<std::unique_ptr<Job>> Job::FromSpec(const proto::JobSpec& spec) {
  if (spec.num_maps() == 0 || spec.num_partitions() == 0 || spec.records_per_map() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("job \"", spec.kind(), "\" needs at least one map, one partition and one ",
                     "record per map (got ", spec.num_maps(), ", ", spec.num_partitions(), ", ",
                     spec.records_per_map(), ")"));
  }
  if (spec.kind() == "sort") {
    return std::make_unique<SortJob>(spec);
  }
  if (spec.kind() == "wordcount") {
    return std::make_unique<AggregateJob>(AggregateJob::Kind::kWordCount, spec);
  }
  if (spec.kind() == "groupby") {
    return std::make_unique<AggregateJob>(AggregateJob::Kind::kGroupBy, spec);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown job kind \"", spec.kind(), "\": expected sort, wordcount or groupby"));
}

}  // namespace shuffle::jobs
