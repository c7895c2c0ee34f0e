#include "shuffle-server/storage/commit_log.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/sync_sites.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {

absl::Status CommitLog::StartFile(Env& env, const DataLayout& layout, uint64_t handle,
                                  uint32_t log_no) {
  SHUFFLE_ASSIGN_OR_RETURN(files_[log_no],
                           env.OpenFile(layout.LogPath(dir_, handle, log_no), {.create = true}));
  current_ = log_no;
  offset_ = 0;
  return absl::OkStatus();
}

absl::Status CommitLog::Create(Env& env, const DataLayout& layout, uint64_t handle) {
  dir_ = layout.LogDirOf(handle);
  SHUFFLE_RETURN_IF_ERROR(StartFile(env, layout, handle, 0));
  SHUFFLE_RETURN_IF_ERROR(
      SyncDirAt(env, SyncSite::kRegisterLogDir, layout.ShuffleDir(dir_, handle)));
  entry_synced_ = true;
  return absl::OkStatus();
}

CommitLog::Reservation CommitLog::Reserve(Env& env, const DataLayout& layout, uint64_t handle,
                                          uint64_t length, uint64_t max_file_bytes) {
  Reservation reservation;
  if (offset_ > 0 && offset_ + length > max_file_bytes) {
    const uint32_t previous = current_;
    const uint64_t previous_offset = offset_;
    if (StartFile(env, layout, handle, current_ + 1).ok()) {
      entry_synced_ = false;
      env.CrashPoint(crash_point::kLogRotated);
    } else {
      current_ = previous;  // keep appending to the current file
      offset_ = previous_offset;
    }
  }
  reservation.region = std::make_shared<LogRegion>();
  reservation.region->handle = handle;
  reservation.region->dir = dir_;
  reservation.region->log_no = current_;
  reservation.region->offset = offset_;
  reservation.file = files_[current_].get();
  reservation.needs_dir_sync = !entry_synced_;
  ++reserved_[current_];
  offset_ += length;
  return reservation;
}

void CommitLog::Committed(const LogRegion& region, uint64_t bytes) {
  ++live_[region.log_no];
  file_bytes_[region.log_no] += bytes;
}

void CommitLog::Unreserve(uint32_t log_no) {
  auto it = reserved_.find(log_no);
  if (it != reserved_.end() && --it->second == 0) {
    reserved_.erase(it);
  }
}

void CommitLog::Retired(const LogRegion& region) {
  uint32_t& live = live_[region.log_no];
  live -= live > 0 ? 1 : 0;
}

std::vector<uint32_t> CommitLog::TakeDeadFiles() {
  // A file other than the current one gets no new regions: once none of its regions is live
  // (the last one may have died while it was still current), nothing needs it.
  std::vector<uint32_t> dead;
  for (const auto& [log_no, file] : files_) {
    auto live = live_.find(log_no);
    if (log_no != current_ && (live == live_.end() || live->second == 0) &&
        !reserved_.contains(log_no)) {
      dead.push_back(log_no);
    }
  }
  for (uint32_t log_no : dead) {
    live_.erase(log_no);
    file_bytes_.erase(log_no);
    files_.erase(log_no);
  }
  return dead;
}

uint64_t CommitLog::bytes() const {
  uint64_t total = 0;
  for (const auto& [log_no, bytes] : file_bytes_) {
    total += bytes;
  }
  return total;
}

absl::StatusOr<File*> CommitLog::OpenForReplay(Env& env, const DataLayout& layout, uint64_t handle,
                                               uint32_t dir, uint32_t log_no) {
  if (!files_.contains(log_no)) {
    SHUFFLE_ASSIGN_OR_RETURN(files_[log_no],
                             env.OpenFile(layout.LogPath(dir, handle, log_no), {.create = false}));
  }
  return files_[log_no].get();
}

void CommitLog::Replayed(uint32_t log_no, uint64_t end) {
  ++live_[log_no];
  replay_end_[log_no] = std::max(replay_end_[log_no], end);
}

absl::Status CommitLog::FinishRecovery(Env& env, const DataLayout& layout, uint64_t handle,
                                       uint64_t* truncated) {
  dir_ = layout.LogDirOf(handle);
  const std::string dir_path = layout.ShuffleDir(dir_, handle);
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<std::string> names, env.ListDir(dir_path));
  uint32_t max_log_no = 0;
  for (const std::string& name : names) {
    uint32_t log_no = 0;
    if (!absl::StartsWith(name, "commit-") || !absl::EndsWith(name, ".log") ||
        !absl::SimpleAtoi(name.substr(7, name.size() - 11), &log_no)) {
      continue;
    }
    max_log_no = std::max(max_log_no, log_no);
    auto end = replay_end_.find(log_no);
    if (end == replay_end_.end()) {
      files_.erase(log_no);
      live_.erase(log_no);
      SHUFFLE_RETURN_IF_ERROR(env.RemoveFile(absl::StrCat(dir_path, "/", name)));
      continue;
    }
    File* file = files_[log_no].get();
    SHUFFLE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
    if (size > end->second) {
      SHUFFLE_RETURN_IF_ERROR(file->Truncate(end->second));
      *truncated += size - end->second;
    }
    file_bytes_[log_no] = end->second;
  }
  replay_end_.clear();
  SHUFFLE_RETURN_IF_ERROR(StartFile(env, layout, handle, max_log_no + 1));
  SHUFFLE_RETURN_IF_ERROR(SyncDirAt(env, SyncSite::kRecoveryLogDir, dir_path));
  entry_synced_ = true;
  return absl::OkStatus();
}

}  // namespace shuffle::storage
