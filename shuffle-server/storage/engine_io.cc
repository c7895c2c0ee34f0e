// The I/O thread: waits for work (commits, full or requested buffers, large blocks, memory
// pressure), refreshes the free-space figures, and collects and writes IoRounds (io_round.h);
// the sync thread finishes and applies each, while the I/O thread writes the next.
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle/core/logging.h"

namespace shuffle::storage {

using core::Kv;

namespace {
// Rounds the I/O thread runs back to back before it lets go of io_mu and refreshes the free-space
// figures.
constexpr int kMaxOverlappedRounds = 64;
}  // namespace

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
    // Overlapping rounds: round N+1 is collected and written here while the sync thread syncs,
    // indexes and applies round N; N+1 is handed over once N is applied. io_mu is held until the
    // last round handed over is applied, so removal and sealing still see no round in progress.
    absl::MutexLock io_lock(&io_mu);
    std::unique_ptr<IoRound> in_flight;  // owns the round handed over last
    auto sync_idle = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return syncing == nullptr; };
    for (int overlapped = 0;; ++overlapped) {
      auto round = std::make_unique<IoRound>();
      {
        absl::MutexLock lock(&mu);
        std::vector<std::shared_ptr<CommitWaiter>> commits;
        commits.swap(pending_commits);
        std::vector<std::shared_ptr<CommitWaiter>> deferred;
        RoundContext ctx = Round();
        // Only the round not yet applied (`syncing`) can hold up a commit.
        round->Collect(ctx, commits, rounds_started + 1, syncing, &deferred);
        pending_commits.insert(pending_commits.begin(), deferred.begin(), deferred.end());
        if (round->empty()) {
          // Nothing to write (commits answered at once, or waiting for the round in flight): no
          // round to count, and nothing to hand over.
          round_cv.SignalAll();
          auto blocks_or_idle = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return buffers.HasWork() || stopping || syncing == nullptr;
          };
          mu.Await(absl::Condition(&blocks_or_idle));
          if (syncing == nullptr || stopping || io_waiters.load() > 0 ||
              overlapped >= kMaxOverlappedRounds) {
            mu.Await(absl::Condition(&sync_idle));
            break;
          }
          continue;
        }
        ++rounds_started;
      }
      round->Write(*env, *io_engine, extent_buffers);
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(&sync_idle));  // the previous round is applied
      syncing = round.get();
      sync_cv.SignalAll();
      in_flight = std::move(round);
      // The next round starts as soon as there is work, while this one syncs. Let go after it
      // when there is none, the engine stops, removal or sealing waits for io_mu, or after a
      // bounded run (so that the free-space figures are refreshed).
      auto work_or_idle = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return HasWork() || stopping || syncing == nullptr;
      };
      mu.Await(absl::Condition(&work_or_idle));
      if (!HasWork() || stopping || io_waiters.load() > 0 || overlapped >= kMaxOverlappedRounds) {
        mu.Await(absl::Condition(&sync_idle));
        break;
      }
    }
  }
}

void StorageEngine::Impl::SyncLoop() {
  for (;;) {
    IoRound* round = nullptr;
    {
      absl::MutexLock lock(&mu);
      while (syncing == nullptr && !sync_stop) {
        sync_cv.Wait(&mu);
      }
      if (syncing == nullptr) {
        return;
      }
      round = syncing;
      round->RefreshLogs();
    }
    round->Finish(*env, *sync_engine, *index);
    bool wrote = false;
    {
      absl::MutexLock lock(&mu);
      RoundContext ctx = Round();
      round->Apply(ctx);
      wrote = !round->empty();
      ++rounds_completed;
      syncing = nullptr;  // the I/O thread may free the round from here on
      round_cv.SignalAll();
      sync_cv.SignalAll();
    }
    if (wrote) {
      env->CrashPoint(crash_point::kRoundApplied);
    }
  }
}

}  // namespace shuffle::storage
