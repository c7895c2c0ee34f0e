// StorageEngine: the shuffle server's storage. Map attempts push blocks, commit them durably, and
// reducers read partitions back.
//
// Layout and durability (docs/architecture.md, "Storage engine"):
//  - Blocks of at least `direct_block_bytes` become their own extent in the shuffle's segment file.
//  - Smaller blocks aggregate in memory per (shuffle, partition) and are flushed as one extent
//    when the buffer reaches `extent_bytes`, when memory runs short (largest buffers first), when
//    the shuffle is sealed, or when a reducer first reads the partition. A partition's data from
//    many maps therefore lies in few large extents.
//  - Commit makes an attempt durable before it returns: its small blocks still in memory are
//    appended to the shuffle's commit log, then every touched file is fdatasync'd and one synced
//    RocksDB batch records the extents, the log region and the commit record. Concurrent commits
//    share the writes, the fdatasyncs and the WAL sync (group commit, one I/O thread).
//  - A log region is dropped once all its blocks lie in durable extents; recovery replays the
//    regions still live into memory.
//  - The first committed attempt of a map wins; readers are served only winners' blocks.
//
// The engine's parts (catalog, write buffers, commit log, segment store, I/O round) and the files
// that implement it are listed in engine_impl.h; docs/durability.md says how its durability
// against power loss is tested.
//
// Thread-safety: every public method may be called from any thread concurrently.
#ifndef SHUFFLE_SERVER_STORAGE_ENGINE_H_
#define SHUFFLE_SERVER_STORAGE_ENGINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/fetch_plan.h"
#include "shuffle-server/storage/index.h"
#include "shuffle/core/ids.h"

namespace shuffle::storage {

struct EngineOptions {
  // Directories for segment and log files; partitions are spread over them. At least one.
  std::vector<std::string> data_dirs;
  // RocksDB directory; default: <data_dirs[0]>/index.
  std::string index_dir;
  // File system and I/O; tests pass a FaultInjectionEnv. Must outlive the engine.
  Env* env = Env::Default();

  uint64_t extent_bytes = 1u << 20;        // aggregation buffer flush size
  uint64_t direct_block_bytes = 1u << 20;  // blocks this large skip aggregation
  uint64_t memory_budget_bytes = 256u << 20;
  // Low-disk watermark: writes to a directory are refused while its free space is below this.
  uint64_t min_free_bytes = 512u << 20;
  uint64_t max_read_bytes = 8u << 20;   // largest single read after coalescing
  uint64_t log_file_bytes = 64u << 20;  // commit log files rotate at this size
  bool direct_io = true;                // O_DIRECT where the file system allows
  uint32_t queue_depth = 64;
  // How long a push waits for memory before failing with UNAVAILABLE.
  int64_t push_wait_ms = 30000;
  // Disk quotas per namespace, in bytes of block data stored (0 or absent: unlimited). A push
  // that would take a namespace over its quota is refused with RESOURCE_EXHAUSTED.
  std::map<std::string, uint64_t> namespace_quota_bytes;
  uint64_t default_namespace_quota_bytes = 0;
};

// Identifies a shuffle across applications.
struct ShuffleKey {
  core::AppId app;
  core::ShuffleId shuffle;

  friend bool operator==(const ShuffleKey&, const ShuffleKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ShuffleKey& k) {
    return H::combine(std::move(h), k.app, k.shuffle);
  }
};

// One block handed to Push: an encoded block (core/block.h) for `partition`.
struct PushedBlock {
  core::PartitionId partition;
  std::string_view bytes;
};

struct CommitRequest {
  core::MapId map;
  core::AttemptId attempt;
  uint32_t num_partitions = 0;
  // What the client pushed for this attempt; a mismatch (e.g. pushes lost to a server restart)
  // fails the commit with ABORTED instead of committing partial output.
  uint64_t expected_blocks = 0;
  uint64_t expected_bytes = 0;
};

struct CommitResult {
  bool won = false;     // false: another attempt of the map had already committed
  CommitRecord winner;  // the winning attempt's record (this one when won)
};

struct ReadRequest {
  core::PartitionId partition_begin;
  core::PartitionId partition_end;  // exclusive
  core::MapId map_begin{0};
  core::MapId map_end{UINT32_MAX};  // exclusive
  // When not empty: only these maps (still within [map_begin, map_end)); any order.
  std::vector<core::MapId> maps{};
};

// What the engine holds of one map in a range of partitions (Lookup).
struct MapHolding {
  core::MapId map{0};
  bool committed = false;
  core::AttemptId attempt{0};   // the committed attempt, when committed
  uint64_t blocks = 0;          // its blocks in the range
  uint64_t bytes = 0;           // their encoded bytes
  uint64_t attempt_blocks = 0;  // its blocks over all partitions
};

// A block served to a reader: where it came from and its encoded bytes.
struct ServedBlock {
  BlockEntry origin;
  std::string bytes;
};

struct RecoveryReport {
  uint32_t epoch = 0;
  uint64_t shuffles = 0;
  uint64_t commits = 0;
  uint64_t extents = 0;
  uint64_t extent_blocks = 0;
  uint64_t log_regions_replayed = 0;
  uint64_t log_blocks_replayed = 0;
  uint64_t log_blocks_already_in_extents = 0;
  uint64_t corrupt_log_blocks = 0;
  uint64_t bytes_truncated = 0;
  uint64_t orphan_dirs_removed = 0;
  uint64_t duplicate_registrations_dropped = 0;  // unused records of a key (older versions)
  double seconds = 0;
};

struct EngineStats {
  uint64_t blocks_pushed = 0;
  uint64_t bytes_pushed = 0;
  uint64_t records_pushed = 0;  // the record counts of the pushed blocks' headers
  uint64_t commits = 0;
  uint64_t commit_rounds = 0;  // group-commit rounds (one fdatasync set and one WAL sync each)
  uint64_t extents_written = 0;
  uint64_t bytes_written = 0;      // to segment and log files, padding included
  uint64_t log_bytes_written = 0;  // the commit-log share of bytes_written
  // Segment space reserved (fallocate) ahead of extent writes, and reservations that failed
  // (the writes then extended the files themselves).
  uint64_t segment_bytes_preallocated = 0;
  uint64_t segment_preallocation_failures = 0;
  // Disk reads for fetches: one per file range of a FetchPlan (sent as one sendfile stream);
  // Read and Scrub count every read they issue.
  uint64_t disk_reads = 0;
  uint64_t bytes_read = 0;
  uint64_t memory_bytes = 0;  // blocks held in aggregation buffers now
  uint64_t refused_low_disk = 0;
  uint64_t refused_quota = 0;
  uint64_t refused_draining = 0;  // pushes, commits and registrations refused while draining
  bool draining = false;
  uint64_t scrubs = 0;  // Scrub calls that completed
  uint64_t scrub_blocks = 0;
  uint64_t scrub_bytes = 0;
  uint64_t scrub_corrupt_blocks = 0;
};

// One shuffle as the engine holds it. Disk figures count bytes written successfully to its
// segment and commit-log files (padding included), kept current as extents are written, logs
// deleted and shuffles removed, and rebuilt from the index at start.
struct ShuffleUsage {
  ShuffleRecord record;             // record.sealed: the map stage is over
  std::vector<uint64_t> dir_bytes;  // per data directory, in EngineOptions::data_dirs order
  uint64_t disk_bytes = 0;          // sum of dir_bytes
  uint64_t stored_bytes = 0;        // block bytes charged to its namespace's quota
  uint64_t files = 0;               // segment and commit-log files
  uint64_t committed_maps = 0;
};

// What the engine holds in one data directory (its shuffles' files; not the index).
struct DirectoryUsage {
  std::string path;
  uint64_t used_bytes = 0;
  uint64_t files = 0;
};

// A committed block that failed verification on disk.
struct CorruptBlock {
  BlockEntry block;     // map, attempt, epoch, seq, partition, length
  std::string path;     // the segment file it lies in
  uint64_t offset = 0;  // of the block in that file
  std::string error;    // checksum mismatch, or the read error
};

struct ScrubReport {
  uint64_t maps = 0;             // committed maps
  uint64_t expected_blocks = 0;  // what their commit records promise
  uint64_t expected_bytes = 0;
  uint64_t blocks_checked = 0;  // found on disk and verified (corrupt ones included)
  uint64_t bytes_checked = 0;
  uint64_t corrupt_blocks = 0;
  // The first kMaxListedCorruptBlocks corrupt blocks, in disk order.
  std::vector<CorruptBlock> corrupt;
};
inline constexpr size_t kMaxListedCorruptBlocks = 1000;

struct DrainReport {
  uint64_t commits_waited = 0;  // commits in flight when draining began
  double seconds = 0;
};

class StorageEngine {
 public:
  // Opens the engine, recovering whatever a previous run left: REQUIRES options.data_dirs
  // non-empty.
  static absl::StatusOr<std::unique_ptr<StorageEngine>> Open(const EngineOptions& options);
  // Stops the I/O thread. Committed data is durable already; uncommitted pushes are dropped.
  ~StorageEngine();
  StorageEngine(const StorageEngine&) = delete;
  StorageEngine& operator=(const StorageEngine&) = delete;

  const RecoveryReport& recovery_report() const { return recovery_; }
  // The engine's RocksDB index, for other components' side records (Index::PutSideRecord) only.
  Index* side_index();
  uint32_t epoch() const { return epoch_; }

  // Registers a shuffle; idempotent for the same key and partition count.
  absl::Status RegisterShuffle(const ShuffleKey& key, std::string_view namespace_name,
                               uint32_t num_partitions);

  // Accepts blocks of one map attempt. Every block is verified (core::VerifyBlock) first; on any
  // error nothing of this call is kept. Waits while memory is over budget (backpressure).
  // Blocks are copied, unless `payload` is given: then every block's bytes lie within *payload
  // (the push frame's), which must not change, and blocks large enough to be extents of their
  // own keep a share of it until they are durable instead of a copy.
  absl::Status Push(const ShuffleKey& key, core::MapId map, core::AttemptId attempt,
                    const std::vector<PushedBlock>& blocks,
                    const std::shared_ptr<const std::string>& payload = nullptr);

  // Makes the attempt durable, then returns; see CommitResult.
  absl::StatusOr<CommitResult> Commit(const ShuffleKey& key, const CommitRequest& request);

  // The map stage is done: flushes every aggregation buffer of the shuffle as extents.
  absl::Status Seal(const ShuffleKey& key);

  // Every block of the winning attempts in the requested partitions and maps, in disk order,
  // read into memory (through the Env's IoEngine, so injected faults apply). The data plane
  // sends fetches with PlanFetch instead.
  absl::StatusOr<std::vector<ServedBlock>> Read(const ShuffleKey& key, const ReadRequest& request);

  // The same blocks, resolved to a plan instead of bytes (fetch_plan.h): their origins in the
  // order Read serves them, and their bytes as ranges of open segment files, which the data
  // plane sends with sendfile. Nothing is read here, but like Read it first flushes the
  // partitions' committed blocks still in memory. The plan keeps the files open while it lives,
  // also across a removal of the shuffle. Counts one disk read per file range.
  absl::StatusOr<FetchPlan> PlanFetch(const ShuffleKey& key, const ReadRequest& request);

  // For each of `maps`, in that order: its committed attempt and that attempt's blocks and bytes
  // in partitions [begin, end), from the commit records (nothing is read or flushed). NOT_FOUND
  // for an unknown shuffle; INVALID_ARGUMENT for a range outside it.
  absl::StatusOr<std::vector<MapHolding>> Lookup(const ShuffleKey& key, core::PartitionId begin,
                                                 core::PartitionId end,
                                                 const std::vector<core::MapId>& maps);

  // Deletes a shuffle's files and index entries. Returns the bytes freed.
  absl::StatusOr<uint64_t> RemoveShuffle(const ShuffleKey& key);
  absl::StatusOr<uint64_t> RemoveApplication(const core::AppId& app);

  // Removes every application none of whose shuffles saw a push, commit, read or seal for
  // `ttl` (a restart counts as activity). Returns the applications removed.
  absl::StatusOr<std::vector<core::AppId>> RemoveIdleApplications(absl::Duration ttl);

  // Reads every block of the shuffle's committed attempts back from disk and verifies its
  // checksum, after writing committed blocks still in memory into extents (as a read does).
  // Corrupt or unreadable blocks are listed in the report, not returned as an error; blocks the
  // commit records promise but the index does not hold show as expected_blocks > blocks_checked.
  // NOT_FOUND for an unknown shuffle.
  absl::StatusOr<ScrubReport> Scrub(const ShuffleKey& key);

  // Puts the engine into draining mode, which it never leaves: pushes, commits and shuffle
  // registrations fail with UNAVAILABLE ("server draining"); reads, seals and removals keep
  // working. Then waits for the commits in flight, writes committed blocks still in memory into
  // extents and flushes the index, so that a restart has nothing to replay. DEADLINE_EXCEEDED,
  // naming what is still running, when `deadline` passes first. Idempotent; concurrent calls
  // each wait.
  absl::StatusOr<DrainReport> Drain(absl::Time deadline);
  bool draining() const;

  // Block bytes stored per namespace (what quotas are checked against).
  std::map<std::string, uint64_t> NamespaceUsage() const;
  // A namespace's quota in bytes (EngineOptions); 0: unlimited.
  uint64_t NamespaceQuota(std::string_view namespace_name) const;

  EngineStats stats() const;
  // Every shuffle, ordered by (app id, shuffle id).
  std::vector<ShuffleUsage> Usage() const;
  // One entry per data directory, in EngineOptions::data_dirs order.
  std::vector<DirectoryUsage> UsageByDirectory() const;

  struct Impl;

 private:
  explicit StorageEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  RecoveryReport recovery_;
  uint32_t epoch_ = 0;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_ENGINE_H_
