// PowerLoss: a model of what a disk keeps when the power goes, for crash tests (test-only; not
// linked into the daemon). Wrappers of the file-system interfaces (FaultInjectionEnv for the
// engine's own files, NewPowerLossFileSystem for RocksDB's) report every change under `root` to
// it: file writes and truncations, file syncs, and the directory entries created, removed and
// renamed, and directory syncs. Cut() then throws away everything that was not made durable:
//  - a file's data and size go back to what they were at its last fdatasync/fsync (a file never
//    synced in this run is empty, unless it existed before tracking began);
//  - a created, removed or renamed directory entry is undone unless its parent directory was
//    fsync'd after the change (for a rename, both parents);
// and kills the process with SIGKILL, like a power cut: no later operation reaches the disk.
//
// The model is the strict one of leveldb's and RocksDB's fault-injection environments: nothing
// unsynced survives. Removals are done by renaming into a trash directory beside `root` (so they
// can be undone); a removal becomes final when its parent directory is synced.
//
// Thread-safety: safe to use from any thread. Every mutating operation runs inside an Operation
// (a shared lock); Cut() takes the lock exclusively, so it waits for the operations in flight and
// no new one starts. REQUIRES: a thread inside an Operation never calls Cut().
#ifndef SHUFFLE_SERVER_STORAGE_POWER_LOSS_H_
#define SHUFFLE_SERVER_STORAGE_POWER_LOSS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace shuffle::storage {

struct PowerLossStats {
  uint64_t files_reverted = 0;     // files whose data or size went back to their last sync
  uint64_t bytes_dropped = 0;      // file bytes past the durable size that were cut off
  uint64_t entries_undone = 0;     // directory entries created, removed or renamed, undone
  uint64_t operations_undone = 0;  // of which removals brought back
  uint64_t file_syncs = 0;         // syncs seen
  uint64_t dir_syncs = 0;
};

class PowerLoss {
 public:
  // Tracks changes under `root` (an existing directory); the trash directory `root`.powerloss-trash
  // is created beside it, on the same file system.
  static absl::StatusOr<std::unique_ptr<PowerLoss>> Create(const std::string& root);
  ~PowerLoss();
  PowerLoss(const PowerLoss&) = delete;
  PowerLoss& operator=(const PowerLoss&) = delete;

  // Held for the whole of one mutating operation (the wrappers take it).
  class Operation {
   public:
    explicit Operation(PowerLoss* power) ABSL_NO_THREAD_SAFETY_ANALYSIS;
    ~Operation() ABSL_NO_THREAD_SAFETY_ANALYSIS;
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;

   private:
    PowerLoss* const power_;
  };

  // True for paths under root.
  bool Tracks(const std::string& path) const;

  // --- file data. `fd` is any descriptor of the file. Files outside root are ignored.
  // Before a write of [offset, offset + length): keeps the durable bytes it overwrites.
  void WillWrite(int fd, uint64_t offset, uint64_t length);
  // Before the file is cut to `size` (also O_TRUNC opens: size 0).
  void WillTruncate(int fd, uint64_t size);
  // Before an open that truncates (O_TRUNC) the existing file at `path`.
  void WillTruncatePath(const std::string& path);
  // After a successful fdatasync or fsync: the file's data and size are durable.
  void Synced(int fd);

  // --- directory entries (paths are normalised; entries outside root are ignored).
  // After a file was created at `path` (an open with O_CREAT that made it).
  void Created(const std::string& path);
  // mkdir -p, recording each directory it creates.
  absl::Status CreateDirs(const std::string& path);
  // Removes a file or a directory tree (rm -rf; OK when missing), undoably.
  absl::Status Remove(const std::string& path);
  // rename(2), undoably (a replaced target is kept in the trash).
  absl::Status Rename(const std::string& from, const std::string& to);
  // After a successful fsync of directory `path`: its entries are durable.
  void DirSynced(const std::string& path);

  // Drops everything not durable (see the header comment) and kills the process with SIGKILL.
  [[noreturn]] void Cut();
  // The same without the kill, for tests of the model itself. No operation may be in flight, and
  // none may follow (the tracked state is cleared: whatever is on disk is durable afterwards).
  absl::Status DropUnsynced();

  PowerLossStats stats() const;

 private:
  struct Undo {
    uint64_t offset;
    std::string bytes;
  };
  struct FileState {
    int fd = -1;  // our own descriptor of the inode, kept open until the end
    std::string path;
    uint64_t durable_size = 0;
    std::vector<Undo> undo;  // durable bytes overwritten since the last sync, oldest first
  };
  enum class EntryOp { kCreate, kMkdir, kRemove, kRename };
  struct Entry {
    EntryOp op;
    std::string path;                     // created, removed, or rename target
    std::string from;                     // rename source
    std::string trash;                    // removed entry (kRemove), or replaced target (kRename)
    std::set<std::string> unsynced_dirs;  // parents still to be synced
  };
  using InodeKey = std::pair<uint64_t, uint64_t>;  // (st_dev, st_ino)

  PowerLoss(std::string root, std::string trash);
  FileState* StateOf(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  std::string NextTrash() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  absl::Status Drop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  // File data and sizes back to their last sync (by inode: also removed or renamed files).
  absl::Status RevertFiles() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  // Directory entries not yet durable undone, newest first.
  absl::Status UndoEntries() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);

  const std::string root_;
  const std::string trash_;
  absl::Mutex ops_mu_;  // shared by operations in flight, exclusive for a cut
  mutable absl::Mutex state_mu_ ABSL_ACQUIRED_AFTER(ops_mu_);
  std::map<InodeKey, FileState> files_ ABSL_GUARDED_BY(state_mu_);
  std::vector<Entry> entries_ ABSL_GUARDED_BY(state_mu_);  // not yet durable, oldest first
  uint64_t next_trash_ ABSL_GUARDED_BY(state_mu_) = 0;
  PowerLossStats stats_ ABSL_GUARDED_BY(state_mu_);
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_POWER_LOSS_H_
