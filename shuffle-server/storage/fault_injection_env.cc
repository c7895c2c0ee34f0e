#include "shuffle-server/storage/fault_injection_env.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/storage/power_loss_fs.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::storage {
namespace {

// The length a short-transfer fault lets through: half of `op.length`, at least one byte; for
// O_DIRECT files a multiple of kDirectIoAlignment, so the shortened op stays legal.
size_t ShortLength(const IoOp& op) {
  size_t length = std::min(op.length, std::max<size_t>(1, op.length / 2));
  if (op.file->direct()) {
    length = length / kDirectIoAlignment * kDirectIoAlignment;
    if (length == 0) {
      // Half is less than one aligned unit: move one unit if there is more than that, else the
      // whole op (which cannot be shortened legally).
      length = op.length > kDirectIoAlignment ? kDirectIoAlignment : op.length;
    }
  }
  return length;
}

// Wraps a base IoEngine and asks the FaultInjectionEnv about every op before passing it on.
// Not thread-safe, like every IoEngine.
class FaultInjectionIoEngine final : public IoEngine {
 public:
  FaultInjectionIoEngine(FaultInjectionEnv* env, std::unique_ptr<IoEngine> base)
      : env_(env), base_(std::move(base)), stats_(base_->stats()) {}

  absl::Status Submit(std::span<IoOp> ops) override {
    std::vector<std::optional<Fault>> faults(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].file != nullptr) {
        faults[i] = env_->Match(ops[i]);
      }
    }
    for (const std::optional<Fault>& fault : faults) {
      if (fault.has_value() && fault->crash) {
        env_->Crash("fault");  // before anything of this batch reaches the disk
      }
      if (fault.has_value() && fault->delay_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
      }
    }
    PowerLoss* power = env_->power();
    PowerLoss::Operation operation(power);

    std::vector<IoOp> passed;  // the ops that go to the base engine
    std::vector<size_t> passed_index;
    for (size_t i = 0; i < ops.size(); ++i) {
      IoOp& op = ops[i];
      const std::optional<Fault>& fault = faults[i];
      if (fault.has_value() && fault->error != 0) {
        op.result = -fault->error;
        CountFailed(op.kind);
        continue;
      }
      IoOp attempt = op;
      if (fault.has_value() && fault->short_transfer && op.kind != IoKind::kSync) {
        attempt.length = ShortLength(op);
      }
      if (power != nullptr && attempt.kind == IoKind::kWrite) {
        power->WillWrite(attempt.file->fd(), attempt.offset, attempt.length);
      }
      passed.push_back(attempt);
      passed_index.push_back(i);
    }

    absl::Status status;
    if (!passed.empty()) {
      status = base_->Submit(passed);
      for (size_t j = 0; j < passed.size(); ++j) {
        ops[passed_index[j]].result = passed[j].result;
        if (power != nullptr && passed[j].kind == IoKind::kSync && passed[j].result >= 0) {
          power->Synced(passed[j].file->fd());
        }
      }
    }
    UpdateStats();
    return status;
  }

  const IoStats& stats() const override { return stats_; }

 private:
  void CountFailed(IoKind kind) {
    switch (kind) {
      case IoKind::kRead:
        ++failed_.reads;
        break;
      case IoKind::kWrite:
        ++failed_.writes;
        break;
      case IoKind::kSync:
        ++failed_.syncs;
        break;
    }
  }

  void UpdateStats() {
    const IoStats& base = base_->stats();
    stats_.reads = base.reads + failed_.reads;
    stats_.writes = base.writes + failed_.writes;
    stats_.syncs = base.syncs + failed_.syncs;
    stats_.bytes_read = base.bytes_read;
    stats_.bytes_written = base.bytes_written;
  }

  FaultInjectionEnv* const env_;
  const std::unique_ptr<IoEngine> base_;
  IoStats failed_;  // ops this wrapper failed without submitting them
  IoStats stats_;   // base_->stats() plus failed_
};

// A file of the base Env whose truncations take faults and are reported to the power-loss model.
class FaultInjectionFile final : public File {
 public:
  FaultInjectionFile(FaultInjectionEnv* env, std::unique_ptr<File> base)
      : env_(env), base_(std::move(base)) {}

  int fd() const override { return base_->fd(); }
  const std::string& path() const override { return base_->path(); }
  bool direct() const override { return base_->direct(); }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }

  absl::Status Truncate(uint64_t size) override {
    if (int error = env_->MatchOp(FsOp::kTruncate, path()); error != 0) {
      return core::ErrnoToStatus(error, "ftruncate (injected)", path());
    }
    PowerLoss::Operation operation(env_->power());
    if (env_->power() != nullptr) {
      env_->power()->WillTruncate(fd(), size);
    }
    return base_->Truncate(size);
  }

  // The power-loss model sees preallocation as a write of zeros: the size it adds is durable
  // only after a sync.
  absl::Status Allocate(uint64_t offset, uint64_t length) override {
    if (int error = env_->MatchOp(FsOp::kAllocate, path()); error != 0) {
      return core::ErrnoToStatus(error, "fallocate (injected)", path());
    }
    PowerLoss::Operation operation(env_->power());
    if (env_->power() != nullptr) {
      env_->power()->WillWrite(fd(), offset, length);
    }
    return base_->Allocate(offset, length);
  }

 private:
  FaultInjectionEnv* const env_;
  const std::unique_ptr<File> base_;
};

absl::Status Injected(int error, std::string_view operation, const std::string& path) {
  return core::ErrnoToStatus(error, absl::StrCat(core::ToAbsl(operation), " (injected)"), path);
}

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(Env* base, PowerLoss* power) : base_(base), power_(power) {}

void FaultInjectionEnv::CrashAtPoint(std::string name, int hit) {
  absl::MutexLock lock(&mu_);
  crash_point_ = std::move(name);
  crash_hit_ = hit;
}

int FaultInjectionEnv::PointHits(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = point_hits_.find(name);
  return it == point_hits_.end() ? 0 : it->second;
}

void FaultInjectionEnv::CrashPoint(std::string_view name) {
  {
    absl::MutexLock lock(&mu_);
    auto it = point_hits_.find(name);
    if (it == point_hits_.end()) {
      it = point_hits_.emplace(std::string(name), 0).first;
    }
    ++it->second;
    if (name != crash_point_ || it->second != crash_hit_) {
      return;
    }
  }
  Crash(absl::StrCat("point ", core::ToAbsl(name)));
}

void FaultInjectionEnv::OnCrash(std::function<void(std::string_view reason)> hook) {
  absl::MutexLock lock(&mu_);
  crash_hook_ = std::move(hook);
}

void FaultInjectionEnv::Crash(std::string_view reason) {
  if (crashed_.exchange(true)) {
    // The power is already being cut (a crash point and the timer of a test can meet): one cut,
    // reported once; this thread waits for the kill.
    for (;;) {
      pause();
    }
  }
  std::function<void(std::string_view)> hook;
  {
    absl::MutexLock lock(&mu_);
    hook = crash_hook_;
  }
  if (hook) {
    hook(reason);
  }
  if (power_ != nullptr) {
    power_->Cut();
  }
  kill(getpid(), SIGKILL);
  for (;;) {
    pause();
  }
}

int FaultInjectionEnv::MatchOp(FsOp op, const std::string& path) {
  std::optional<Fault> fired;
  {
    absl::MutexLock lock(&mu_);
    for (ArmedFault& armed : faults_) {
      const Fault& fault = armed.fault;
      if (fault.op != op || path.find(fault.path_contains) == std::string::npos) {
        continue;
      }
      ++armed.seen;
      if (armed.seen > fault.skip && (fault.count == -1 || armed.fired < fault.count)) {
        ++armed.fired;
        ++fired_;
        fired = fault;
        break;
      }
    }
  }
  if (!fired.has_value()) {
    return 0;
  }
  if (fired->crash) {
    Crash("fault");
  }
  if (fired->delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(fired->delay_ms));
  }
  return fired->error;
}

void FaultInjectionEnv::AddFault(const Fault& fault) {
  absl::MutexLock lock(&mu_);
  faults_.push_back(ArmedFault{fault});
}

void FaultInjectionEnv::ClearFaults() {
  absl::MutexLock lock(&mu_);
  faults_.clear();
}

int FaultInjectionEnv::fired() const {
  absl::MutexLock lock(&mu_);
  return fired_;
}

void FaultInjectionEnv::SetDiskSpace(std::optional<DiskSpace> space) {
  absl::MutexLock lock(&mu_);
  disk_space_ = space;
}

std::optional<Fault> FaultInjectionEnv::Match(const IoOp& op) {
  if (op.file == nullptr) {
    return std::nullopt;
  }
  const std::string& path = op.file->path();
  absl::MutexLock lock(&mu_);
  for (ArmedFault& armed : faults_) {
    const Fault& fault = armed.fault;
    if (fault.op != FsOp::kNone || fault.kind != op.kind ||
        path.find(fault.path_contains) == std::string::npos) {
      continue;
    }
    ++armed.seen;
    if (armed.seen > fault.skip && (fault.count == -1 || armed.fired < fault.count)) {
      ++armed.fired;
      ++fired_;
      return fault;
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectionEnv::OpenFile(const std::string& path,
                                                                  const OpenOptions& options) {
  if (int error = MatchOp(FsOp::kOpen, path); error != 0) {
    return Injected(error, "open", path);
  }
  PowerLoss::Operation operation(power_);
  const bool existed = power_ != nullptr && base_->FileExists(path);
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, base_->OpenFile(path, options));
  if (power_ != nullptr && !existed) {
    power_->Created(path);
  }
  return std::unique_ptr<File>(new FaultInjectionFile(this, std::move(file)));
}

absl::StatusOr<std::unique_ptr<IoEngine>> FaultInjectionEnv::NewIoEngine(uint32_t queue_depth) {
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<IoEngine> base, base_->NewIoEngine(queue_depth));
  return std::unique_ptr<IoEngine>(new FaultInjectionIoEngine(this, std::move(base)));
}

absl::Status FaultInjectionEnv::CreateDirs(const std::string& path) {
  if (int error = MatchOp(FsOp::kCreateDirs, path); error != 0) {
    return Injected(error, "mkdir -p", path);
  }
  PowerLoss::Operation operation(power_);
  return power_ != nullptr ? power_->CreateDirs(path) : base_->CreateDirs(path);
}

absl::Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  if (int error = MatchOp(FsOp::kRemove, path); error != 0) {
    return Injected(error, "unlink", path);
  }
  PowerLoss::Operation operation(power_);
  if (power_ == nullptr || !base_->FileExists(path)) {
    return base_->RemoveFile(path);  // a missing file fails as unlink(2) does
  }
  return power_->Remove(path);
}

absl::Status FaultInjectionEnv::RemoveAll(const std::string& path) {
  if (int error = MatchOp(FsOp::kRemove, path); error != 0) {
    return Injected(error, "rm -rf", path);
  }
  PowerLoss::Operation operation(power_);
  return power_ != nullptr ? power_->Remove(path) : base_->RemoveAll(path);
}

absl::StatusOr<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_->FileExists(path); }

absl::Status FaultInjectionEnv::SyncDir(const std::string& path) {
  if (int error = MatchOp(FsOp::kSyncDir, path); error != 0) {
    return Injected(error, "fsync directory", path);
  }
  PowerLoss::Operation operation(power_);
  SHUFFLE_RETURN_IF_ERROR(base_->SyncDir(path));
  if (power_ != nullptr) {
    power_->DirSynced(path);
  }
  return absl::OkStatus();
}

std::shared_ptr<rocksdb::FileSystem> FaultInjectionEnv::IndexFileSystem() {
  absl::MutexLock lock(&mu_);
  if (index_fs_ == nullptr) {
    index_fs_ = NewPowerLossFileSystem(this);
  }
  return index_fs_;
}

absl::StatusOr<DiskSpace> FaultInjectionEnv::GetDiskSpace(const std::string& path) {
  {
    absl::MutexLock lock(&mu_);
    if (disk_space_.has_value()) {
      return *disk_space_;
    }
  }
  return base_->GetDiskSpace(path);
}

}  // namespace shuffle::storage
