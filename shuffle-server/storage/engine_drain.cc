// Draining: refuse new writes, let the commits in flight finish, write committed blocks still in
// memory into extents and flush the index, so the server can stop (or be maintained) with nothing
// left to replay.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

using core::Kv;

bool StorageEngine::draining() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->draining;
}

absl::StatusOr<DrainReport> StorageEngine::Drain(absl::Time deadline) {
  Impl& impl = *impl_;
  const auto start = std::chrono::steady_clock::now();
  DrainReport report;
  std::vector<ShufflePtr> shuffles;
  {
    absl::MutexLock lock(&impl.mu);
    report.commits_waited = static_cast<uint64_t>(impl.commits.in_flight());
    if (!impl.draining) {
      impl.draining = true;  // from now on no commit enters the gate
      SHUFFLE_LOG(INFO) << "storage engine draining: refusing new pushes, commits and shuffles"
                        << Kv("commits_in_flight", report.commits_waited);
    }
  }
  if (!impl.commits.AwaitIdle(deadline)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "draining: ", impl.commits.in_flight(),
        " commits still in flight at the deadline (new writes stay refused); drain again to "
        "wait longer"));
  }
  {
    absl::MutexLock lock(&impl.mu);
    for (const auto& [key, shuffle] : impl.catalog.shuffles()) {
      shuffles.push_back(shuffle);
    }
  }
  // Committed blocks still in memory are durable in commit logs already; writing them into
  // extents now spares the next start replaying those logs.
  for (const ShufflePtr& shuffle : shuffles) {
    absl::Status flushed =
        impl.FlushAndWait(shuffle, 0, shuffle->record.num_partitions, /*everything=*/false);
    if (!flushed.ok()) {
      return core::Annotate(flushed, "draining");
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          "draining: the deadline passed while writing committed blocks from memory into "
          "extents (they are durable in the commit logs); drain again to finish");
    }
  }
  SHUFFLE_RETURN_IF_ERROR(core::Annotate(impl.index->Flush(), "draining: flushing the index"));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SHUFFLE_LOG(INFO) << "storage engine drained" << Kv("commits_waited", report.commits_waited)
                    << Kv("seconds", report.seconds);
  return report;
}

}  // namespace shuffle::storage
