// The inside of StorageEngine: its parts and the one lock that guards them.
//
// Parts (each with its own header, contract and tests):
//   catalog.h        shuffles, attempts, winners, namespace usage and quotas
//   write_buffers.h  blocks in memory: partition buffers, large blocks, the memory budget
//   commit_log.h     per shuffle: commit-log files, regions, rotation
//   segment_store.h  per shuffle: segment files and extent allocation
//   io_round.h       the I/O thread's round: collect, write + sync + index, apply (group commit)
//   layout.h         where the files lie
// Files of the engine itself:
//   engine.cc           Open, RegisterShuffle, Push, Commit;  engine_io.cc  the I/O thread
//   engine_flush.cc     flushing on demand (seal, read, scrub, drain) and the durable seal flag
//   engine_read.cc      reads, fetch plans, lookups;  engine_scrub.cc     scrubbing
//   engine_recovery.cc  start-up recovery;            engine_remove.cc    removals, idle apps
//   engine_drain.cc     draining;                     engine_usage.cc     counters and usage
//   sync_sites.h, crash_points.h   the named syncs and crash points of the write path
// Test-only (shuffle::storage_testing, never in the daemon): fault_injection_env.h, power_loss.h,
// power_loss_fs.h.
//
// Locking: one mutex, `mu`, guards all in-memory state, parts included (ABSL_GUARDED_BY below):
// group commit stays simple because a round collects and applies under the same lock that pushes
// and commits take. `io_mu` serialises I/O rounds against shuffle removal and the seal flag and
// is always taken before `mu`; the I/O thread holds it while rounds are in flight, the sync
// thread's included (engine_io.cc). Block bytes are immutable once pushed, so the I/O thread copies
// them without `mu` while its round holds them; segment files never change once a shuffle is
// published, so readers use them without `mu`.
#ifndef SHUFFLE_SERVER_STORAGE_ENGINE_IMPL_H_
#define SHUFFLE_SERVER_STORAGE_ENGINE_IMPL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/aligned_buffer.h"
#include "shuffle-server/storage/buffer_pool.h"
#include "shuffle-server/storage/catalog.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/fetch_plan.h"
#include "shuffle-server/storage/index.h"
#include "shuffle-server/storage/io_round.h"
#include "shuffle-server/storage/layout.h"
#include "shuffle-server/storage/read_plan.h"
#include "shuffle-server/storage/segment_store.h"
#include "shuffle-server/storage/write_buffers.h"
#include "shuffle/core/gate.h"

namespace shuffle::storage {

// IoEngines for reads, reused across reads. Thread-safe (its own mutex).
class ReadEnginePool {
 public:
  ReadEnginePool(Env* env, uint32_t queue_depth) : env_(env), queue_depth_(queue_depth) {}
  absl::StatusOr<std::unique_ptr<IoEngine>> Acquire() ABSL_LOCKS_EXCLUDED(mu_);
  void Release(std::unique_ptr<IoEngine> engine) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Env* const env_;
  const uint32_t queue_depth_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<IoEngine>> engines_ ABSL_GUARDED_BY(mu_);
};

// What one push brings: its bytes and the records its block headers count.
struct PushTotals {
  uint64_t bytes = 0;
  uint64_t records = 0;
};

struct StorageEngine::Impl {
  explicit Impl(const EngineOptions& o);

  // --- engine.cc
  void IoLoop() ABSL_LOCKS_EXCLUDED(io_mu, mu);
  // The sync thread: finishes (fdatasync, index batch) and applies the rounds the I/O thread
  // hands over in `syncing`, one at a time, while the I/O thread writes the next.
  void SyncLoop() ABSL_LOCKS_EXCLUDED(mu);

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void RefreshDiskSpace() ABSL_LOCKS_EXCLUDED(mu);
  RoundContext Round() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return RoundContext{.options = options,
                        .layout = layout,
                        .env = *env,
                        .epoch = epoch,
                        .catalog = catalog,
                        .buffers = buffers,
                        .stats = stats};
  }
  // The steps of a push, under `mu`: admission (registered, partitions in range, map not
  // committed, disk space, quota), backpressure, and taking the blocks in.
  absl::StatusOr<ShufflePtr> AdmitPush(const ShuffleKey& key, core::MapId map,
                                       core::AttemptId attempt,
                                       const std::vector<PushedBlock>& blocks, uint64_t total)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status WaitForMemory(const ShuffleKey& key, const ShuffleState& shuffle, uint64_t total)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void TakeBlocks(const ShufflePtr& shuffle, AttemptState& state, core::MapId map,
                  core::AttemptId attempt, const std::vector<PushedBlock>& blocks,
                  const PushTotals& totals, const std::shared_ptr<const std::string>& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status CheckDiskSpace(uint32_t dir, uint64_t incoming) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // UNAVAILABLE ("server draining") for `what` (a push, commit or registration), counted.
  absl::Status RefuseWhileDraining(std::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool CommitDone(const CommitWaiter* waiter) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return waiter->done;
  }

  // --- engine_flush.cc
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
  // Marks the shuffle sealed, durably (its index record). NOT_FOUND once it was removed.
  absl::Status MarkSealed(const ShufflePtr& shuffle) ABSL_LOCKS_EXCLUDED(io_mu, mu);

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
  absl::Status Read(const ShuffleKey& key, const ReadRequest& request, const BlockSink& sink)
      ABSL_LOCKS_EXCLUDED(mu);
  absl::StatusOr<FetchPlan> PlanFetch(const ShuffleKey& key, const ReadRequest& request)
      ABSL_LOCKS_EXCLUDED(mu);
  // Reads `ranges` (of `files`, indexed by data dir) in batches of at most max_read_bytes of
  // buffers (at least one range each), handing each batch to `fn` with one buffer and one read
  // status per range; stops at the first non-OK status `fn` returns, and returns it.
  using RangeBatchFn = std::function<absl::Status(std::span<const ReadRange> ranges,
                                                  const std::vector<AlignedBuffer>& buffers,
                                                  const std::vector<absl::Status>& results)>;
  absl::Status ReadRanges(const std::vector<ReadRange>& ranges, const std::vector<File*>& files,
                          const RangeBatchFn& fn) ABSL_LOCKS_EXCLUDED(mu);
  // The winners among maps [map_begin, map_end).
  void SnapshotWinners(const ShuffleState& shuffle, uint32_t map_begin, uint32_t map_end,
                       WinnerMap* winners) ABSL_LOCKS_EXCLUDED(mu);
  // The shuffle, counted as activity; null when not registered.
  ShufflePtr FindActive(const ShuffleKey& key) ABSL_LOCKS_EXCLUDED(mu);

  // --- engine_recovery.cc (before the I/O thread starts; shuffles not yet published)
  absl::Status Recover(RecoveryReport* report) ABSL_LOCKS_EXCLUDED(mu);
  absl::Status RecoverShuffle(ShuffleState& shuffle, Index::Batch& cleanup, RecoveryReport* report);
  // Keeps one recovered record per key (the one with commits) and deletes the others' records.
  void DropDuplicateRegistrations(std::vector<ShufflePtr>& recovered, Index::Batch& cleanup,
                                  RecoveryReport* report);
  // Deletes the shuffle directories whose handle is not in `handles` (the index's).
  absl::Status RemoveOrphanDirs(const absl::flat_hash_set<uint64_t>& handles,
                                RecoveryReport* report);
  using BlockIdentity =
      std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>;  // map attempt epoch seq
  struct IndexedExtents {
    std::vector<uint64_t> end_by_dir;  // end of the last indexed extent, per data directory
    absl::flat_hash_set<BlockIdentity> logged_blocks;  // blocks of logged attempts in extents
  };
  absl::StatusOr<IndexedExtents> ScanExtents(uint64_t handle, const std::vector<LogRecord>& logs,
                                             RecoveryReport* report);
  // Replays one live log region into the shuffle's buffers, skipping blocks already in extents;
  // a region left with nothing to replay goes into `cleanup`.
  absl::Status ReplayLogRegion(ShuffleState& shuffle, const LogRecord& log,
                               const absl::flat_hash_set<BlockIdentity>& in_extents,
                               Index::Batch& cleanup, RecoveryReport* report);

  const EngineOptions options;
  Env* const env;
  const DataLayout layout;
  const SegmentStore segment_store;
  std::unique_ptr<Index> index;
  uint32_t epoch = 0;                     // set by recovery, before the I/O thread starts
  std::unique_ptr<IoEngine> io_engine;    // the I/O thread's (recovery uses it before the start)
  std::unique_ptr<IoEngine> sync_engine;  // the sync thread's
  BufferPool extent_buffers;              // the I/O thread's: extents' aligned buffers, reused
  std::thread io_thread;
  std::thread sync_thread;
  // Threads waiting for io_mu: while there are any, the I/O thread lets go of it after the round
  // in hand instead of overlapping the next (counted around the lock by RemoveShuffle, MarkSealed).
  std::atomic<int> io_waiters{0};
  ReadEnginePool read_engines;

  absl::Mutex io_mu ABSL_ACQUIRED_BEFORE(mu);
  absl::Mutex mu;
  absl::CondVar work_cv;   // wakes the I/O thread
  absl::CondVar round_cv;  // a round finished or memory was released
  absl::CondVar sync_cv;   // a round was handed to the sync thread, or it finished one
  IoRound* syncing ABSL_GUARDED_BY(mu) = nullptr;  // handed to the sync thread, not yet applied
  bool sync_stop ABSL_GUARDED_BY(mu) = false;
  Catalog catalog ABSL_GUARDED_BY(mu);
  WriteBuffers buffers ABSL_GUARDED_BY(mu);
  EngineStats stats ABSL_GUARDED_BY(mu);
  std::vector<std::shared_ptr<CommitWaiter>> pending_commits ABSL_GUARDED_BY(mu);
  core::Gate commits;  // inside Commit(), after its checks; entered only under mu
  // Keys whose registration is writing its files and record: a second registration of the key
  // waits for it (registered_cv), so one key gets one record. Two executors registering one
  // shuffle at once used to both write one, and recovery then published whichever it met last
  // (possibly the unused one, hiding every committed output of the shuffle).
  absl::flat_hash_set<ShuffleKey> registering ABSL_GUARDED_BY(mu);
  absl::CondVar registered_cv;
  bool draining ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  uint64_t rounds_started ABSL_GUARDED_BY(mu) = 0;
  uint64_t rounds_completed ABSL_GUARDED_BY(mu) = 0;
  std::vector<DiskSpace> disk_space ABSL_GUARDED_BY(mu);
  absl::Time disk_space_refreshed = absl::InfinitePast();  // I/O thread only
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_ENGINE_IMPL_H_
