// The work of one I/O round of the storage engine (see engine_io.cc): extent flushes, large
// blocks and commits collected under the engine's mutex, executed without it. Internal to the
// engine; a round is owned by the I/O thread alone.
#ifndef SHUFFLE_SERVER_STORAGE_IO_ROUND_H_
#define SHUFFLE_SERVER_STORAGE_IO_ROUND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "shuffle-server/storage/aligned_buffer.h"
#include "shuffle-server/storage/engine_impl.h"

namespace shuffle::storage {

// A run of blocks of one partition written as one extent (or one large block: `direct`).
struct FlushJob {
  ShufflePtr shuffle;
  uint32_t partition = 0;
  uint32_t dir = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool direct = false;
  std::vector<BlockPtr> blocks;
  std::vector<std::shared_ptr<LogRegion>> logs;  // per block, captured under mu
  AlignedBuffer buffer;
  absl::Status status;
};

struct CommitJob {
  std::shared_ptr<CommitWaiter> waiter;
  CommitRecord record;
  std::vector<BlockPtr> log_blocks;
  File* log_file = nullptr;
  std::shared_ptr<LogRegion> region;  // set when there are blocks to log
  std::string log_bytes;
  std::vector<size_t> direct_jobs;  // indices into Round::flushes this commit depends on
  bool put_log = false;
  absl::Status status;
};

// A commit-log file created by a rotation in this round: its directory entry must be durable
// before the index names a region in it.
struct NewLogFile {
  uint64_t handle = 0;
  uint32_t log_no = 0;
  std::string dir;
};

struct IoRound {
  absl::flat_hash_map<PendingBlock*, size_t> direct_index;  // large block -> its job in flushes
  std::vector<FlushJob> flushes;
  std::vector<CommitJob> commits;
  std::vector<std::shared_ptr<CommitWaiter>> resolve_after;
  absl::flat_hash_map<LogRegion*, uint32_t> region_decrements;
  std::vector<std::shared_ptr<LogRegion>> regions_done;
  std::vector<NewLogFile> new_log_files;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_IO_ROUND_H_
