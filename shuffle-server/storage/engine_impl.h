// Internal state of StorageEngine, shared by engine.cc (API and pushes), engine_io.cc (the I/O
// thread: flushes and group commit), engine_read.cc (reads) and engine_recovery.cc (start-up).
//
// Locking: `io_mu` serialises I/O rounds against shuffle removal and is always taken before
// `mu`. `mu` guards all in-memory state. Block bytes are immutable once pushed, so the I/O thread
// reads them without `mu` while its job holds a reference.
#ifndef SHUFFLE_SERVER_STORAGE_ENGINE_IMPL_H_
#define SHUFFLE_SERVER_STORAGE_ENGINE_IMPL_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/aligned_buffer.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/fetch_plan.h"
#include "shuffle-server/storage/index.h"
#include "shuffle-server/storage/read_plan.h"
#include "shuffle/core/gate.h"

namespace shuffle::storage {

inline uint64_t AlignUp(uint64_t v) {
  return (v + kDirectIoAlignment - 1) & ~uint64_t{kDirectIoAlignment - 1};
}

inline uint64_t AttemptKey(uint32_t map, uint32_t attempt) {
  return (uint64_t{map} << 32) | attempt;
}

// A live commit-log region (an 'L' record). Owned and mutated by the I/O thread only.
struct LogRegion {
  uint64_t handle = 0;
  uint32_t dir = 0;
  uint32_t log_no = 0;
  uint64_t offset = 0;
  uint32_t outstanding = 0;  // logged blocks not yet in a durable extent
};

enum class BlockState { kInMemory, kFlushing, kDurable };

struct PendingBlock {
  BlockEntry entry;
  std::string bytes;                         // cleared once durable in an extent
  BlockState state = BlockState::kInMemory;  // guarded by Impl::mu
  std::shared_ptr<LogRegion> log;            // guarded by Impl::mu; set once logged
};
using BlockPtr = std::shared_ptr<PendingBlock>;

struct PartitionBuffer {
  std::vector<BlockPtr> blocks;  // kInMemory blocks, in push order
  uint64_t bytes = 0;
  bool queued = false;  // in Impl::flush_queue
  bool flush_requested = false;
};

// An attempt that has pushed in this run and not committed yet.
struct AttemptState {
  uint32_t next_seq = 0;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  std::vector<BlockPtr> small_blocks;
  std::vector<BlockPtr> direct_blocks;
  std::map<uint32_t, PartitionTotal> totals;
  absl::Status failure;  // non-OK once the attempt is aborted
  bool committing = false;
};

struct SegmentFile {
  std::unique_ptr<File> file;  // written and read by the engine (O_DIRECT where allowed)
  // The same file opened buffered and read-only, for fetches sent with sendfile: on an O_DIRECT
  // descriptor sendfile would bypass the page cache and need aligned offsets. Null when `file`
  // is buffered already. Both are set before the shuffle is published and never change.
  std::unique_ptr<File> serve_file;
  uint64_t next_offset = 0;  // guarded by Impl::mu; always aligned

  int ServeFd() const { return (serve_file != nullptr ? serve_file : file)->fd(); }
};

struct ShuffleState {
  ShuffleRecord record;
  std::vector<PartitionBuffer> partitions;
  absl::node_hash_map<uint64_t, AttemptState> attempts;  // stable addresses
  absl::flat_hash_map<uint32_t, CommitRecord> winners;
  std::vector<SegmentFile> segments;  // one per data dir
  uint32_t log_dir = 0;
  uint32_t log_no = 0;  // current log file
  uint64_t log_offset = 0;
  std::map<uint32_t, std::unique_ptr<File>> log_files;
  std::map<uint32_t, uint32_t> live_regions;  // log_no -> live regions (I/O thread only)
  // Disk accounting, guarded by Impl::mu: bytes written successfully (padding included) to this
  // shuffle's files in each data directory, and to each commit-log file. A failed write's bytes
  // are not counted (recovery cuts them off); a deleted log file's bytes are subtracted.
  std::vector<uint64_t> dir_bytes;              // one per data dir
  std::map<uint32_t, uint64_t> log_file_bytes;  // log_no -> bytes
  uint64_t stored_bytes = 0;  // block bytes charged to the namespace (pushed, or committed)
  absl::Time last_activity = absl::Now();  // guarded by Impl::mu
  bool removed = false;

  uint64_t DiskBytes() const {
    uint64_t total = 0;
    for (uint64_t bytes : dir_bytes) {
      total += bytes;
    }
    return total;
  }
  // Adds `bytes` written to log file `log_no` (in log_dir).
  void AddLogBytes(uint32_t log_no, uint64_t bytes) {
    dir_bytes[log_dir] += bytes;
    log_file_bytes[log_no] += bytes;
  }
  // Forgets log file `log_no`, deleted from disk.
  void ForgetLogFile(uint32_t log_no) {
    auto it = log_file_bytes.find(log_no);
    if (it != log_file_bytes.end()) {
      dir_bytes[log_dir] -= std::min(dir_bytes[log_dir], it->second);
      log_file_bytes.erase(it);
    }
    log_files.erase(log_no);
  }
};
using ShufflePtr = std::shared_ptr<ShuffleState>;

inline std::string DescribeShuffle(const ShuffleState& shuffle) {
  return absl::StrCat(shuffle.record.app_id, "/", shuffle.record.shuffle_id);
}
inline std::string DescribeKey(const ShuffleKey& key) {
  return absl::StrCat(key.app.value(), "/", key.shuffle.value());
}

struct IoRound;  // engine_io.cc

struct CommitWaiter {
  ShufflePtr shuffle;
  CommitRequest request;
  bool done = false;
  absl::StatusOr<CommitResult> result = absl::UnknownError("pending");
};

struct StorageEngine::Impl {
  explicit Impl(const EngineOptions& o) : options(o), env(o.env) {}

  // --- engine.cc
  absl::Status CreateShuffleFiles(ShuffleState& shuffle);
  // Opens (creating it when missing) the segment file of `shuffle` in data directory `dir`.
  absl::Status OpenSegment(ShuffleState& shuffle, uint32_t dir);
  std::string ShuffleDir(uint32_t dir, uint64_t handle) const;
  std::string SegmentPath(uint32_t dir, uint64_t handle) const;
  std::string LogPath(uint32_t dir, uint64_t handle, uint32_t log_no) const;
  ShufflePtr FindShuffle(const ShuffleKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status CheckDiskSpace(uint32_t dir, uint64_t incoming) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status CheckQuota(const ShuffleState& shuffle, uint64_t incoming)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  uint64_t QuotaOf(const std::string& namespace_name) const {
    auto it = options.namespace_quota_bytes.find(namespace_name);
    return it != options.namespace_quota_bytes.end() ? it->second
                                                     : options.default_namespace_quota_bytes;
  }
  void DropBlock(PendingBlock& block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Asks the I/O thread to flush partitions [begin, end) and waits for the round: all their
  // in-memory blocks when `everything` (seal), else those of committed attempts (reads), or of
  // the attempts in `only` when given (a scrub's snapshot of the winners). Fails with
  // UNAVAILABLE when such blocks stay in memory, so a read never silently omits them.
  absl::Status FlushAndWait(const ShufflePtr& shuffle, uint32_t begin, uint32_t end,
                            bool everything, const WinnerMap* only = nullptr)
      ABSL_LOCKS_EXCLUDED(mu);
  bool HoldsCommittedBlocks(const ShuffleState& shuffle, uint32_t partition,
                            const WinnerMap* only = nullptr) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // --- engine_io.cc
  void IoLoop();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void CollectRound(IoRound& round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void CollectFlushes(IoRound& round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void CollectDirectBlocks(IoRound& round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void CollectCommits(IoRound& round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void ExecuteRound(IoRound& round) ABSL_LOCKS_EXCLUDED(mu);
  void WriteAndSync(IoRound& round) ABSL_LOCKS_EXCLUDED(mu);
  void RecordInIndex(IoRound& round) ABSL_LOCKS_EXCLUDED(mu);
  void ApplyRound(IoRound& round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Deletes the shuffle's log files, other than the current one, without live regions.
  void RemoveDeadLogFiles(ShuffleState& shuffle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void RefreshDiskSpace() ABSL_LOCKS_EXCLUDED(mu);

  // Marks the shuffle sealed, durably (its index record). NOT_FOUND once it was removed.
  absl::Status MarkSealed(const ShufflePtr& shuffle) ABSL_LOCKS_EXCLUDED(io_mu, mu);
  // UNAVAILABLE ("server draining") for `what` (a push, commit or registration), counted.
  absl::Status RefuseWhileDraining(std::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // --- engine_read.cc
  // What a read resolves to before any byte is read: the shuffle (which keeps its files open),
  // the reads to issue, and the segment files by data directory.
  struct PreparedRead {
    ShufflePtr shuffle;
    std::vector<ReadRange> ranges;
    std::vector<File*> files;
    std::vector<int> serve_fds;  // SegmentFile::ServeFd() per data directory
  };
  // Checks the request, flushes the partitions' committed blocks still in memory, snapshots the
  // winners and plans the reads (index prefix scan, winner filtering, coalescing).
  absl::StatusOr<PreparedRead> PrepareRead(const ShuffleKey& key, const ReadRequest& request)
      ABSL_LOCKS_EXCLUDED(mu);
  using BlockSink = std::function<absl::Status(std::vector<ServedBlock>&& batch)>;
  // Reads the blocks and hands them to `sink` in batches of about max_read_bytes.
  absl::Status Read(const ShuffleKey& key, const ReadRequest& request, const BlockSink& sink);
  absl::StatusOr<FetchPlan> PlanFetch(const ShuffleKey& key, const ReadRequest& request);
  // Reads `ranges` (of `files`, indexed by data dir) in batches of at most max_read_bytes of
  // buffers (at least one range each), handing each batch to `fn` with one buffer and one read
  // status per range; stops at the first non-OK status `fn` returns, and returns it.
  using RangeBatchFn = std::function<absl::Status(std::span<const ReadRange> ranges,
                                                  const std::vector<AlignedBuffer>& buffers,
                                                  const std::vector<absl::Status>& results)>;
  absl::Status ReadRanges(const std::vector<ReadRange>& ranges, const std::vector<File*>& files,
                          const RangeBatchFn& fn) ABSL_LOCKS_EXCLUDED(mu);
  // The winners among maps [map_begin, map_end), under `mu`.
  void SnapshotWinners(const ShuffleState& shuffle, uint32_t map_begin, uint32_t map_end,
                       WinnerMap* winners) ABSL_LOCKS_EXCLUDED(mu);
  absl::StatusOr<std::unique_ptr<IoEngine>> AcquireReadEngine();
  void ReleaseReadEngine(std::unique_ptr<IoEngine> engine);

  // --- engine_recovery.cc
  absl::Status Recover(RecoveryReport* report);
  absl::Status RecoverShuffle(ShuffleState& shuffle, Index::Batch& cleanup, RecoveryReport* report);

  const EngineOptions options;
  Env* const env;
  std::unique_ptr<Index> index;
  uint32_t epoch = 0;
  std::unique_ptr<IoEngine> io_engine;  // the I/O thread's (recovery uses it before the start)
  std::thread io_thread;

  absl::Mutex io_mu ABSL_ACQUIRED_BEFORE(mu);
  absl::Mutex mu;
  absl::CondVar work_cv;   // wakes the I/O thread
  absl::CondVar round_cv;  // a round finished or memory was released
  bool stopping ABSL_GUARDED_BY(mu) = false;
  uint64_t next_handle ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<ShuffleKey, ShufflePtr> shuffles ABSL_GUARDED_BY(mu);
  std::vector<std::pair<ShufflePtr, uint32_t>> flush_queue ABSL_GUARDED_BY(mu);
  std::vector<std::pair<ShufflePtr, BlockPtr>> direct_queue ABSL_GUARDED_BY(mu);
  std::vector<std::shared_ptr<CommitWaiter>> pending_commits ABSL_GUARDED_BY(mu);
  uint64_t memory_bytes ABSL_GUARDED_BY(mu) = 0;
  uint64_t rounds_started ABSL_GUARDED_BY(mu) = 0;
  uint64_t rounds_completed ABSL_GUARDED_BY(mu) = 0;
  bool pressure ABSL_GUARDED_BY(mu) = false;
  std::vector<DiskSpace> disk_space ABSL_GUARDED_BY(mu);
  absl::Status last_flush_error ABSL_GUARDED_BY(mu);
  absl::Time flush_backoff_until ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  absl::Time disk_space_refreshed = absl::InfinitePast();  // I/O thread only
  EngineStats stats ABSL_GUARDED_BY(mu);
  bool draining ABSL_GUARDED_BY(mu) = false;
  core::Gate commits;  // inside Commit(), after its checks; entered only under mu
  std::map<std::string, uint64_t> namespace_bytes ABSL_GUARDED_BY(mu);

  absl::Mutex pool_mu;
  std::vector<std::unique_ptr<IoEngine>> read_engines ABSL_GUARDED_BY(pool_mu);
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_ENGINE_IMPL_H_
