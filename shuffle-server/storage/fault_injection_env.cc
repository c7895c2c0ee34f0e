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
#include "absl/synchronization/mutex.h"
#include "shuffle/core/status_macros.h"

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
        // A crash before anything of this batch reaches the disk.
        kill(getpid(), SIGKILL);
      }
      if (fault.has_value() && fault->delay_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
      }
    }

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
      passed.push_back(attempt);
      passed_index.push_back(i);
    }

    absl::Status status;
    if (!passed.empty()) {
      status = base_->Submit(passed);
      for (size_t j = 0; j < passed.size(); ++j) {
        ops[passed_index[j]].result = passed[j].result;
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

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base) {}

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
    if (fault.kind != op.kind || path.find(fault.path_contains) == std::string::npos) {
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
  return base_->OpenFile(path, options);
}

absl::StatusOr<std::unique_ptr<IoEngine>> FaultInjectionEnv::NewIoEngine(uint32_t queue_depth) {
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<IoEngine> base, base_->NewIoEngine(queue_depth));
  return std::unique_ptr<IoEngine>(new FaultInjectionIoEngine(this, std::move(base)));
}

absl::Status FaultInjectionEnv::CreateDirs(const std::string& path) {
  return base_->CreateDirs(path);
}

absl::Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  return base_->RemoveFile(path);
}

absl::Status FaultInjectionEnv::RemoveAll(const std::string& path) {
  return base_->RemoveAll(path);
}

absl::StatusOr<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_->FileExists(path); }

absl::Status FaultInjectionEnv::SyncDir(const std::string& path) { return base_->SyncDir(path); }

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
