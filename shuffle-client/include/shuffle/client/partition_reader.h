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
#include "absl/time/time.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

/// Where one map's output lies and which of its attempts to read: for engines whose driver keeps
/// its own record of map outputs (Spark's map output tracker) rather than this library's
/// MapStatus. The reader first asks each server what it holds of these attempts (one lookup per
/// server) and so learns exactly how many blocks and bytes to expect.
struct MapLocation {
  std::string address;  ///< the server's data-plane address ("host:port" or "unix:/path")
  core::MapId map{0};
  core::AttemptId attempt{0};
};

class PartitionReader {
 public:
  /// Starts fetching. `statuses` are the MapStatuses of every map of the shuffle (maps with no
  /// data in the range cost nothing).
  static absl::StatusOr<std::unique_ptr<PartitionReader>> Open(
      const ClientOptions& options, const ShuffleHandle& shuffle, core::PartitionId partition_begin,
      core::PartitionId partition_end, const std::vector<MapStatus>& statuses);
  /// The same from map locations. A server that does not hold the named attempt of a map (lost
  /// data, another attempt committed there) fails the reader with NOT_FOUND naming the map, and
  /// failed_server() names that server.
  static absl::StatusOr<std::unique_ptr<PartitionReader>> Open(
      const ClientOptions& options, const ShuffleHandle& shuffle, core::PartitionId partition_begin,
      core::PartitionId partition_end, const std::vector<MapLocation>& maps);
  ~PartitionReader();
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  /// Advances to the next record: true with key and value set (valid until the next call),
  /// false at the end, or an error.
  absl::StatusOr<bool> Next(std::string_view* key, std::string_view* value);

  /// Advances to the next block instead: true with `raw` set to the block's record bytes as the
  /// writer gave them (MapOutputWriter::WriteBlock; valid until the next call), false at the end,
  /// or an error. Use either Next() or NextBlock() on a reader, not both.
  absl::StatusOr<bool> NextBlock(std::string_view* raw);
  /// The same, but waits at most `wait` for data: then *timed_out is set and false returned, and
  /// the caller may check for cancellation and call again (nothing is lost).
  absl::StatusOr<bool> NextBlock(std::string_view* raw, absl::Duration wait, bool* timed_out);

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
  // Starts the fetching threads of a reader whose plans are made.
  static std::unique_ptr<PartitionReader> Start(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_PARTITION_READER_H_
