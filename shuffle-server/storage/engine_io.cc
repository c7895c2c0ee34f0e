// The I/O thread: waits for work (commits, full or requested buffers, large blocks, memory
// pressure), refreshes the free-space figures, and runs one IoRound at a time (io_round.h).
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle/core/logging.h"

namespace shuffle::storage {

using core::Kv;

bool StorageEngine::Impl::HasWork() const { return !pending_commits.empty() || buffers.HasWork(); }

void StorageEngine::Impl::RefreshDiskSpace() {
  std::vector<DiskSpace> space(options.data_dirs.size());
  for (size_t d = 0; d < options.data_dirs.size(); ++d) {
    absl::StatusOr<DiskSpace> s = env->GetDiskSpace(options.data_dirs[d]);
    if (s.ok()) {
      space[d] = *s;
    } else {
      SHUFFLE_LOG(WARNING) << "cannot read free space" << Kv("dir", options.data_dirs[d])
                           << Kv("error", s.status().message());
    }
  }
  absl::MutexLock lock(&mu);
  disk_space = std::move(space);
}

void StorageEngine::Impl::IoLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      while (!HasWork() && !stopping) {
        work_cv.WaitWithTimeout(&mu, absl::Milliseconds(200));
        if (absl::Now() - disk_space_refreshed > absl::Milliseconds(500)) {
          break;
        }
      }
      if (stopping && pending_commits.empty()) {
        return;
      }
    }
    if (absl::Now() - disk_space_refreshed > absl::Milliseconds(200)) {
      RefreshDiskSpace();
      disk_space_refreshed = absl::Now();
    }
    absl::MutexLock io_lock(&io_mu);
    IoRound round;
    {
      absl::MutexLock lock(&mu);
      ++rounds_started;
      std::vector<std::shared_ptr<CommitWaiter>> commits;
      commits.swap(pending_commits);
      RoundContext ctx = Round();
      round.Collect(ctx, commits);
    }
    round.Execute(*env, *io_engine, *index, extent_buffers);
    {
      absl::MutexLock lock(&mu);
      RoundContext ctx = Round();
      round.Apply(ctx);
      ++rounds_completed;
      round_cv.SignalAll();
    }
    if (!round.empty()) {
      env->CrashPoint(crash_point::kRoundApplied);
    }
  }
}

}  // namespace shuffle::storage
