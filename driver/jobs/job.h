// Job: one of the reference jobs the driver runs (sort, word count, group-by). A job is a map
// stage and a reduce stage over one shuffle. Its input is generated deterministically from the
// JobSpec (seed, number of maps, records per map), so the driver can validate every result
// without storing the input: Validate() regenerates what each reduce partition must contain and
// compares it with the summaries the reduce tasks returned.
//
// Executors and the driver build the same Job from the same JobSpec (FromSpec). A Job is
// immutable after construction; every method is const and thread-safe.
#ifndef SHUFFLE_DRIVER_JOBS_JOB_H_
#define SHUFFLE_DRIVER_JOBS_JOB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/core/ids.h"
#include "shuffle/proto/driver.pb.h"

namespace shuffle::jobs {

// Where a map task's records go (the shuffle writer, or a test's in-memory table).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual absl::Status Emit(core::PartitionId partition, std::string_view key,
                            std::string_view value) = 0;
};

// Where a reduce task's records come from (the shuffle reader, or a test's table). Next() returns
// true with key and value valid until the next call, or false at the end.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual absl::StatusOr<bool> Next(std::string_view* key, std::string_view* value) = 0;
};

class Job {
 public:
  // INVALID_ARGUMENT for an unknown kind or a spec with no maps, partitions or records.
  static absl::StatusOr<std::unique_ptr<Job>> FromSpec(const proto::JobSpec& spec);
  // The spec of a reference job: kind "sort" (100-byte records, range partitioned, sorted per
  // partition), "wordcount" (words with a skewed frequency, combined per map) or "groupby"
  // (per group count, sum, min and max, no map-side combining).
  static proto::JobSpec MakeSpec(std::string_view kind, uint64_t seed, uint32_t num_maps,
                                 uint32_t num_partitions, uint64_t records_per_map);

  virtual ~Job() = default;

  const proto::JobSpec& spec() const { return spec_; }
  uint32_t num_maps() const { return spec_.num_maps(); }
  uint32_t num_partitions() const { return spec_.num_partitions(); }
  // Bytes of generated input records (key plus value), for throughput reports.
  virtual uint64_t input_bytes() const = 0;

  // Generates map `map`'s input and emits its output records.
  virtual absl::Status RunMap(core::MapId map, RecordSink& out) const = 0;
  // Consumes every record of `partition` and returns the job-defined summary of the result.
  // DATA_LOSS for a record that cannot belong to this job or partition.
  virtual absl::StatusOr<std::string> RunReduce(core::PartitionId partition,
                                                RecordSource& in) const = 0;
  // Checks the summaries of all partitions (index = partition) against the regenerated input.
  // DATA_LOSS naming the first partition that differs and how.
  virtual absl::Status Validate(const std::vector<std::string>& summaries) const = 0;

 protected:
  explicit Job(proto::JobSpec spec) : spec_(std::move(spec)) {}

 private:
  proto::JobSpec spec_;
};

// The deterministic generator every job draws its input from: splitmix64 over (seed, stream).
uint64_t Mix64(uint64_t x);
inline uint64_t RandomAt(uint64_t seed, uint64_t index) {
  return Mix64(seed ^ Mix64(index + 0x9e3779b97f4a7c15ULL));
}

}  // namespace shuffle::jobs

#endif  // SHUFFLE_DRIVER_JOBS_JOB_H_
