// An Env decorator that injects faults into the operations of a base Env, so tests can reach
// error paths repeatably: EIO or ENOSPC on a chosen read, write or sync, and on directory syncs,
// removals, renames, directory creation, opens and truncations; short transfers (the op moves
// only part of its bytes, as the kernel may); a crash just before a chosen op or at the n-th time
// a named crash point is reached; a delay (to hold an operation in flight); and a fake free-space
// figure for low-disk tests.
//
// With a PowerLoss attached (power_loss.h) it reports every change to the files under the
// model's root, and a crash is a power cut: what was not synced is dropped before the process
// dies. IndexFileSystem() then gives RocksDB a file system that reports to the same model and
// takes the same namespace faults (power_loss_fs.h).
//
// Test-only: linked into tests, never into the daemon. Thread-safe.
#ifndef SHUFFLE_SERVER_STORAGE_FAULT_INJECTION_ENV_H_
#define SHUFFLE_SERVER_STORAGE_FAULT_INJECTION_ENV_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/storage/env.h"
#include "shuffle-server/storage/power_loss.h"

namespace shuffle::storage {

// Operations on names rather than data; a Fault with `op` set matches these instead of `kind`.
enum class FsOp { kNone, kSyncDir, kRemove, kRename, kCreateDirs, kOpen, kTruncate, kAllocate };

struct Fault {
  IoKind kind = IoKind::kWrite;
  FsOp op = FsOp::kNone;
  // Only ops on files whose path contains this substring match ("" matches every file).
  std::string path_contains;
  // Let this many matching ops pass before the fault fires.
  int skip = 0;
  // How many times the fault fires once armed; -1 for every later matching op.
  int count = 1;
  // What happens when it fires (exactly one of these):
  int error = 0;                // the op fails with -error (e.g. EIO, ENOSPC) and moves no bytes
  bool short_transfer = false;  // the op moves only half its bytes (at least one) and succeeds
  bool crash = false;  // the process is killed (or the power cut, see PowerLoss) before the op
  int delay_ms = 0;    // the batch waits this long, then the op runs normally
};

class FaultInjectionEnv : public Env {
 public:
  // `base`, and `power` when given, must outlive this Env.
  explicit FaultInjectionEnv(Env* base, PowerLoss* power = nullptr);
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  void AddFault(const Fault& fault);
  void ClearFaults();
  // Number of times any fault has fired.
  int fired() const;
  // When set, GetDiskSpace reports this instead of the real figures.
  void SetDiskSpace(std::optional<DiskSpace> space);

  // Crashes (see Crash) the `hit`-th time (1-based) crash point `name` is reached.
  void CrashAtPoint(std::string name, int hit);
  // How often each crash point was reached.
  int PointHits(const std::string& name) const;

  // Decides the fate of one op about to be submitted (used by the wrapping IoEngine).
  // Returns the matching fault that fires, if any.
  std::optional<Fault> Match(const IoOp& op);
  // The same for a namespace operation on `path`; a crash fault crashes here. Returns the errno
  // to fail the operation with, or 0 (after any delay) to let it run.
  int MatchOp(FsOp op, const std::string& path);
  // A crash: the power cut (PowerLoss::Cut) when a model is attached, else SIGKILL. `reason` goes
  // to the hook set with OnCrash first.
  [[noreturn]] void Crash(std::string_view reason);
  // Called with the reason ("point round:synced", "fault", "timer"...) just before a crash.
  void OnCrash(std::function<void(std::string_view reason)> hook);
  PowerLoss* power() const { return power_; }

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 const OpenOptions& options) override;
  absl::StatusOr<std::unique_ptr<IoEngine>> NewIoEngine(uint32_t queue_depth) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override;
  std::shared_ptr<rocksdb::FileSystem> IndexFileSystem() override;
  void CrashPoint(std::string_view name) override;

 private:
  struct ArmedFault {
    Fault fault;
    int seen = 0;
    int fired = 0;
  };

  Env* const base_;
  PowerLoss* const power_;
  mutable absl::Mutex mu_;
  std::string crash_point_ ABSL_GUARDED_BY(mu_);
  int crash_hit_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int, std::less<>> point_hits_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<rocksdb::FileSystem> index_fs_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> crashed_{false};  // Crash was called: the process is going down
  std::function<void(std::string_view)> crash_hook_ ABSL_GUARDED_BY(mu_);
  std::vector<ArmedFault> faults_ ABSL_GUARDED_BY(mu_);
  int fired_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<DiskSpace> disk_space_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_FAULT_INJECTION_ENV_H_
