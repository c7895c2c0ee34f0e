/// MapOutputWriter: writes the output of one map attempt to the node-local shuffle server.
///
/// Records are appended per partition; full partition buffers become blocks (zstd-compressed,
/// checksummed) that are pushed in batches, several pushes in flight. Commit() pushes what is
/// left, asks the server to make the attempt durable, and returns its MapStatus only once the
/// server has acknowledged that. A writer that is destroyed without Commit() leaves nothing that
/// will ever be served. With options.replica_server, every push and the commit also go to that
/// server (the blocks are encoded once), and Commit() succeeds only when both have made the
/// output durable.
///
/// Not thread-safe: one writer per map task.
#ifndef SHUFFLE_CLIENT_MAP_OUTPUT_WRITER_H_
#define SHUFFLE_CLIENT_MAP_OUTPUT_WRITER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

/// The server that an error of a writer came from (its address as dialled: the primary's, or
/// options.replica_server), or "" when the error is not one server's (a bad argument, a local
/// failure). A driver uses it to tell a map that failed from one whose replica went away.
std::string WriterFailedServer(const absl::Status& status);

class MapOutputWriter {
 public:
  /// Connects to the server (options.server, or the discovered node-local one); with
  /// options.writer_waits_for_server, waits with the retries and backoff while it refuses
  /// connections (restarting).
  static absl::StatusOr<std::unique_ptr<MapOutputWriter>> Open(const ClientOptions& options,
                                                               const ShuffleHandle& shuffle,
                                                               core::MapId map,
                                                               core::AttemptId attempt);
  ~MapOutputWriter();
  MapOutputWriter(const MapOutputWriter&) = delete;
  MapOutputWriter& operator=(const MapOutputWriter&) = delete;

  /// Appends one record to `partition`. REQUIRES: partition < num_partitions; not committed.
  absl::Status Write(core::PartitionId partition, std::string_view key, std::string_view value);

  /// Appends one block whose record bytes the caller made (`raw`, holding `records` records in
  /// the engine's own format; a reader gets them back whole from PartitionReader::NextBlock): it
  /// is compressed, checksummed and pushed like a block Write() cut. Records of the partition
  /// buffered by Write() go first. INVALID_ARGUMENT when raw is larger than core::kMaxBlockSize.
  /// REQUIRES: partition < num_partitions; not committed.
  absl::Status WriteBlock(core::PartitionId partition, std::string_view raw, uint32_t records);

  /// Makes the attempt's output durable on the server. If another attempt of the map committed
  /// first, returns that attempt's status (its output is the one served) with `won` false.
  struct CommitResult {
    MapStatus status;
    bool won = false;
    /// With options.replica_server: the output's place there (as on the primary, another
    /// attempt's when one committed there first).
    std::optional<MapStatus> replica;
  };
  absl::StatusOr<CommitResult> Commit();

  /// Bytes of records written so far (before compression).
  uint64_t bytes_written() const;
  /// Encoded bytes of the blocks cut so far (after compression, block headers included): what
  /// the server stores and a reader receives.
  uint64_t encoded_bytes() const;

  struct Impl;

 private:
  explicit MapOutputWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_MAP_OUTPUT_WRITER_H_
