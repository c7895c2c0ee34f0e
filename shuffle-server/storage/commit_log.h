// The commit log of one shuffle: numbered files commit-<n>.log in one data directory
// (DataLayout::LogDirOf). A commit appends its attempt's blocks still in memory as one region
// (sequential, fdatasync'd with its round, recorded in the index as an 'L' record); a region
// stays live until every block in it lies in a durable extent; a file other than the current one
// is deleted once no live region is left in it. The current file rotates at
// EngineOptions::log_file_bytes. Recovery replays the live regions into memory.
//
// Thread-safety: none of its own. A CommitLog lives in its ShuffleState and REQUIRES the engine's
// lock, except Create and the recovery calls, which run before the shuffle is published. Regions
// (LogRegion) are owned and mutated by the I/O thread only.
#ifndef SHUFFLE_SERVER_STORAGE_COMMIT_LOG_H_
#define SHUFFLE_SERVER_STORAGE_COMMIT_LOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/layout.h"

namespace shuffle::storage {

// A live commit-log region (an 'L' record).
struct LogRegion {
  uint64_t handle = 0;
  uint32_t dir = 0;
  uint32_t log_no = 0;
  uint64_t offset = 0;
  uint32_t outstanding = 0;  // logged blocks not yet in a durable extent
};

class CommitLog {
 public:
  CommitLog() = default;
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // Registration: creates commit-0.log and makes its directory entry durable.
  absl::Status Create(Env& env, const DataLayout& layout, uint64_t handle);

  // A region of `length` bytes for one commit, at the end of the current file. When the current
  // file holds data and would grow past `max_file_bytes` it first rotates to a new file. While
  // the current file's directory entry is not known durable (a rotation created it, and no
  // directory sync has succeeded since) `needs_dir_sync` is set: the directory must be synced
  // before the index names the region (the I/O round does it, then calls DirSynced). When the new
  // file cannot be created the current one grows.
  struct Reservation {
    std::shared_ptr<LogRegion> region;
    File* file = nullptr;
    bool needs_dir_sync = false;
  };
  Reservation Reserve(Env& env, const DataLayout& layout, uint64_t handle, uint64_t length,
                      uint64_t max_file_bytes);
  // The directory was synced after file `log_no` was created: its entry is durable.
  void DirSynced(uint32_t log_no) {
    if (log_no == current_) {
      entry_synced_ = true;
    }
  }
  // The round that reserved a region is over (committed or failed): the region's file no longer
  // needs to stay for it. A reserved region keeps its file from being taken as dead, since with
  // overlapping rounds an earlier round may retire the file's last live region before the round
  // that reserved it has committed.
  void Unreserve(uint32_t log_no);
  // The region is in the index, `bytes` written: live until Retired.
  void Committed(const LogRegion& region, uint64_t bytes);
  // Counts `bytes` written for a region that needed no index record (all its blocks reached
  // extents in the same round).
  void Written(uint32_t log_no, uint64_t bytes) { file_bytes_[log_no] += bytes; }
  // Every block of a live region now lies in a durable extent.
  void Retired(const LogRegion& region);
  // The files, other than the current one, without live or reserved regions: forgotten here,
  // returned for the caller to delete (after the index stopped naming their regions).
  std::vector<uint32_t> TakeDeadFiles();

  uint32_t dir() const { return dir_; }
  uint32_t current() const { return current_; }
  uint64_t bytes() const;  // written to its files, which are still there
  size_t files() const { return files_.size(); }

  // --- recovery, before the shuffle is published.
  // The file of a live region in data directory `dir` (its record's), opened once (it must
  // exist: the index names it).
  absl::StatusOr<File*> OpenForReplay(Env& env, const DataLayout& layout, uint64_t handle,
                                      uint32_t dir, uint32_t log_no);
  // A live region of file `log_no` ends at `end`.
  void Replayed(uint32_t log_no, uint64_t end);
  // Cuts each file with live regions after its last one, deletes the files without (REQUIRES:
  // the index no longer names regions in them), and starts a new current file, made durable.
  absl::Status FinishRecovery(Env& env, const DataLayout& layout, uint64_t handle,
                              uint64_t* truncated);

 private:
  absl::Status StartFile(Env& env, const DataLayout& layout, uint64_t handle, uint32_t log_no);

  uint32_t dir_ = 0;
  uint32_t current_ = 0;
  uint64_t offset_ = 0;        // end of the current file's regions
  bool entry_synced_ = false;  // the current file's directory entry is durable
  std::map<uint32_t, std::unique_ptr<File>> files_;
  std::map<uint32_t, uint32_t> live_;        // log_no -> live regions
  std::map<uint32_t, uint32_t> reserved_;    // log_no -> regions reserved, round not over
  std::map<uint32_t, uint64_t> file_bytes_;  // log_no -> bytes written
  std::map<uint32_t, uint64_t> replay_end_;  // recovery: log_no -> end of its last live region
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_COMMIT_LOG_H_
