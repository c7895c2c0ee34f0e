/// PartitionReader: reads partitions [begin, end) of a shuffle from every server named in the map
/// statuses, in parallel, and iterates their records.
///
/// Each block is verified against the checksum its writer computed; a mismatch is reported as
/// DATA_LOSS naming the block (map, attempt, partition, sequence number, server). The statuses
/// say exactly how many blocks and bytes each server must deliver; anything else is an error,
/// never silent loss. Retryable failures (server restart, overload) are retried with exponential
/// backoff, skipping blocks already received. Decoded bytes waiting to be consumed are bounded by
/// max_bytes_in_flight (counted per received frame, of about 1 MiB: one frame always gets
/// through). Blocks stored uncompressed are handed to Next() in place, without a copy.
///
/// Not thread-safe: Next() from one thread (fetching happens on internal threads).
#ifndef SHUFFLE_CLIENT_PARTITION_READER_H_
#define SHUFFLE_CLIENT_PARTITION_READER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

class PartitionReader {
 public:
  /// Starts fetching. `statuses` are the MapStatuses of every map of the shuffle (maps with no
  /// data in the range cost nothing).
  static absl::StatusOr<std::unique_ptr<PartitionReader>> Open(
      const ClientOptions& options, const ShuffleHandle& shuffle, core::PartitionId partition_begin,
      core::PartitionId partition_end, const std::vector<MapStatus>& statuses);
  ~PartitionReader();
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  /// Advances to the next record: true with key and value set (valid until the next call),
  /// false at the end, or an error.
  absl::StatusOr<bool> Next(std::string_view* key, std::string_view* value);

  struct Stats {
    uint64_t blocks = 0;
    uint64_t bytes = 0;  ///< encoded block bytes received
    uint64_t records = 0;
    uint64_t retries = 0;
  };
  Stats stats() const;

  /// After Next() failed: the address of the server whose blocks could not be fetched (after
  /// its retries), or "" when the failure was not one server's (e.g. the reader was closed).
  /// The driver uses it to decide whether that server is lost.
  std::string failed_server() const;

  struct Impl;

 private:
  explicit PartitionReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_PARTITION_READER_H_
