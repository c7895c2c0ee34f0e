// The I/O round: one step of the storage engine's I/O thread, and its group commit.
//  1. Collect (under the engine's lock): the write buffers' flushes and large blocks become
//     extents allocated in their segments; every waiting commit is judged by the catalog, and a
//     commit-log region is reserved for its attempt's blocks still in memory.
//  2. Write, then Finish (without the lock): the segment space of the round's extents is
//     preallocated (fallocate), every extent and region is written in one batch, every file
//     written is fdatasync'd in one batch, the directories of log files created by rotation are
//     fsync'd, then one synced index batch records extents, log regions and commit records.
//  3. Apply (under the lock): blocks now durable leave memory, failed flushes go back to the
//     buffers, commits are answered, retired log regions' files are deleted.
// Every commit waiting when a round starts shares its fdatasyncs and its WAL sync. Named crash
// points (crash_points.h) separate the steps.
//
// Rounds overlap (engine_io.cc): the I/O thread collects and writes round N+1 while the sync
// thread finishes and applies round N; N+1 is handed over only after N is applied, so syncs,
// index batches and applies stay in round order. A commit that depends on the round still in
// flight waits for the next one, so its verdict is the same as without overlap.
//
// Thread-safety: a round is owned by one thread at a time (the I/O thread for Collect and Write,
// then the sync thread). Collect, RefreshLogs and Apply REQUIRE the engine's lock, held by the
// caller; Write and Finish run without it and touch only the round's own jobs (block bytes are
// immutable once pushed).
#ifndef SHUFFLE_SERVER_STORAGE_IO_ROUND_H_
#define SHUFFLE_SERVER_STORAGE_IO_ROUND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle-server/storage/aligned_buffer.h"
#include "shuffle-server/storage/buffer_pool.h"
#include "shuffle-server/storage/catalog.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/index.h"
#include "shuffle-server/storage/layout.h"
#include "shuffle-server/storage/sync_sites.h"
#include "shuffle-server/storage/write_buffers.h"

namespace shuffle::storage {

// One Commit call waiting for its round. `done` and `result` are guarded by the engine's lock.
struct CommitWaiter {
  ShufflePtr shuffle;
  CommitRequest request;
  bool done = false;
  absl::StatusOr<CommitResult> result = absl::UnknownError("pending");
};

// What a round works on: the engine's parts. The references marked "locked" may only be used
// under the engine's lock (Collect, Apply).
struct RoundContext {
  const EngineOptions& options;
  const DataLayout& layout;
  Env& env;
  uint32_t epoch = 0;
  Catalog& catalog;       // locked
  WriteBuffers& buffers;  // locked
  EngineStats& stats;     // locked
};

class IoRound {
 public:
  IoRound() = default;
  IoRound(const IoRound&) = delete;
  IoRound& operator=(const IoRound&) = delete;

  // REQUIRES: the engine's lock. Takes the commits waiting now; `id` numbers the round. Rounds
  // overlap: `in_flight`, when set, is the previous round, written but perhaps not yet synced,
  // indexed and applied. A commit that depends on it (its map commits there, or some of its
  // blocks are being written there) goes to `deferred`, for a round that starts after it.
  void Collect(RoundContext& ctx, const std::vector<std::shared_ptr<CommitWaiter>>& commits,
               uint64_t id, const IoRound* in_flight,
               std::vector<std::shared_ptr<CommitWaiter>>* deferred);
  // Nothing to write or commit.
  bool empty() const { return flushes_.empty() && commits_.empty(); }
  // Without the engine's lock (the I/O thread): preallocates segment space and writes every
  // extent and log region, without syncing. The extents' buffers come from `buffers` and go back
  // to it once written.
  void Write(Env& env, IoEngine& io, BufferPool& buffers);
  // REQUIRES: the engine's lock; every earlier round applied. Takes the log regions of this
  // round's flushed blocks as they are now: a commit of the previous round may have logged
  // blocks this round had already collected.
  void RefreshLogs();
  // Without the engine's lock (the sync thread), after Write; every earlier round applied:
  // fdatasyncs every file written, syncs new log files' directories, then writes one synced
  // index batch.
  void Finish(Env& env, IoEngine& io, Index& index);
  // REQUIRES: the engine's lock. Answers the round's commits (CommitWaiter::done).
  void Apply(RoundContext& ctx);

 private:
  // A run of blocks of one partition written as one extent (or one large block: `direct`).
  struct FlushJob {
    ShufflePtr shuffle;
    uint32_t partition = 0;
    uint32_t dir = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    bool direct = false;
    std::vector<BlockPtr> blocks;
    std::vector<std::shared_ptr<LogRegion>> logs;  // per block, captured under the lock
    AlignedBuffer buffer;  // from the pool while the round writes; returned after
    absl::Status status;
  };
  struct CommitJob {
    std::shared_ptr<CommitWaiter> waiter;
    CommitRecord record;
    std::vector<BlockPtr> log_blocks;
    File* log_file = nullptr;
    std::shared_ptr<LogRegion> region;  // set when there are blocks to log
    std::string log_bytes;
    std::vector<size_t> direct_jobs;  // indices into flushes_ this commit depends on
    bool put_log = false;
    absl::Status status;
  };
  // A log file whose directory entry is not known durable (a rotation created it): its directory
  // must be synced before the index names a region in it. A failed sync is tried again by the
  // next round that writes into the file.
  struct NewLogFile {
    ShuffleState* shuffle = nullptr;
    uint32_t log_no = 0;
    std::string dir;
    bool synced = false;
  };
  // A region some of whose blocks reached extents in this round.
  struct RegionProgress {
    ShuffleState* shuffle = nullptr;
    uint32_t blocks = 0;
  };

  void AddFlush(RoundContext& ctx, WriteBuffers::Flush flush);
  void AddDirect(RoundContext& ctx, const ShufflePtr& shuffle, const BlockPtr& block);
  void AddCommit(RoundContext& ctx, const std::shared_ptr<CommitWaiter>& waiter,
                 AttemptState* attempt);
  void ReserveLogRegion(RoundContext& ctx, ShuffleState& shuffle, CommitJob& job);

  // The round's writes, each with the job status it decides and the sync its file needs.
  struct WriteBatch {
    std::vector<IoOp> ops;
    std::vector<absl::Status*> owner;
    std::vector<SyncSite> sites;
  };
  WriteBatch PrepareWrites(BufferPool& buffers);
  void Sync(IoEngine& io);
  // True when `attempt` has blocks this round writes (they are kFlushing with this round's id).
  bool WritesBlocksOf(const AttemptState& attempt) const;
  bool CommitsMap(const ShuffleState* shuffle, uint32_t map) const {
    return committing_maps_.contains(std::make_pair(shuffle, map));
  }
  // Preallocates the segment space this round's extents take (one fallocate per segment file
  // touched), so that their direct writes do not extend the files. A failure only costs speed:
  // the writes extend the file as before, and decide the jobs' fate.
  void Preallocate();
  void SyncNewLogDirs(Env& env);
  void Record(Index& index);
  void RecordExtents(Index::Batch& batch);
  void RecordCommit(CommitJob& job, const absl::flat_hash_map<PendingBlock*, bool>& flushed_ok,
                    Index::Batch& batch);

  void ApplyFlush(RoundContext& ctx, FlushJob& job);
  void ApplyCommit(RoundContext& ctx, CommitJob& job);
  void RetireRegions(RoundContext& ctx);

  absl::flat_hash_map<PendingBlock*, size_t> direct_index_;  // large block -> its flush job
  std::vector<FlushJob> flushes_;
  std::vector<CommitJob> commits_;
  std::vector<std::shared_ptr<CommitWaiter>> resolve_after_;
  absl::flat_hash_map<LogRegion*, RegionProgress> region_progress_;
  std::vector<NewLogFile> new_log_files_;
  uint64_t id_ = 0;
  absl::flat_hash_set<std::pair<const ShuffleState*, uint32_t>> committing_maps_;
  WriteBatch writes_;  // what Write submitted, for Finish to sync
  std::vector<absl::Status> write_results_;
  uint64_t preallocated_bytes_ = 0;
  uint64_t preallocation_failures_ = 0;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_IO_ROUND_H_
