// An Env decorator that injects faults into the operations of a base Env, so tests can reach
// error paths repeatably: EIO or ENOSPC on a chosen read, write or sync; short transfers (the op
// moves only part of its bytes, as the kernel may); a crash (SIGKILL of the process) just before
// a chosen op; a delay (to hold an operation in flight); and a fake free-space figure for
// low-disk tests.
//
// Faults apply to ops submitted through IoEngines this Env created. Thread-safe.
#ifndef SHUFFLE_SERVER_STORAGE_FAULT_INJECTION_ENV_H_
#define SHUFFLE_SERVER_STORAGE_FAULT_INJECTION_ENV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/storage/env.h"

namespace shuffle::storage {

struct Fault {
  IoKind kind = IoKind::kWrite;
  // Only ops on files whose path contains this substring match ("" matches every file).
  std::string path_contains;
  // Let this many matching ops pass before the fault fires.
  int skip = 0;
  // How many times the fault fires once armed; -1 for every later matching op.
  int count = 1;
  // What happens when it fires (exactly one of these):
  int error = 0;                // the op fails with -error (e.g. EIO, ENOSPC) and moves no bytes
  bool short_transfer = false;  // the op moves only half its bytes (at least one) and succeeds
  bool crash = false;           // the process is killed with SIGKILL before the op runs
  int delay_ms = 0;             // the batch waits this long, then the op runs normally
};

class FaultInjectionEnv : public Env {
 public:
  // `base` must outlive this Env.
  explicit FaultInjectionEnv(Env* base);
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  void AddFault(const Fault& fault);
  void ClearFaults();
  // Number of times any fault has fired.
  int fired() const;
  // When set, GetDiskSpace reports this instead of the real figures.
  void SetDiskSpace(std::optional<DiskSpace> space);

  // Decides the fate of one op about to be submitted (used by the wrapping IoEngine).
  // Returns the matching fault that fires, if any.
  std::optional<Fault> Match(const IoOp& op);

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

 private:
  struct ArmedFault {
    Fault fault;
    int seen = 0;
    int fired = 0;
  };

  Env* const base_;
  mutable absl::Mutex mu_;
  std::vector<ArmedFault> faults_ ABSL_GUARDED_BY(mu_);
  int fired_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<DiskSpace> disk_space_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_FAULT_INJECTION_ENV_H_
