// The fdatasyncs, directory fsyncs and synced index writes of the storage engine's write path,
// by name. The power-loss test must catch the removal of any one of them: a build configured with
// -DSHUFFLE_SYNC_REMOVAL=ON (a test build option; never a daemon) skips the sites named in the
// environment variable SHUFFLE_REMOVE_SYNC (comma-separated), and docs/durability.md holds the
// table of which test run caught each removal. In every other build SyncRemoved() is constant
// false and the checks compile away.
#ifndef SHUFFLE_SERVER_STORAGE_SYNC_SITES_H_
#define SHUFFLE_SERVER_STORAGE_SYNC_SITES_H_

#include <array>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "shuffle-server/storage/env.h"

namespace shuffle::storage {

enum class SyncSite {
  kOpenDirs,            // fsync of the parents of the data and index directories at open
  kRegisterRootDir,     // fsync of <data dir>/shuffles after a shuffle directory is created
  kRegisterShuffleDir,  // fsync of a shuffle directory after its segment file is created
  kRegisterLogDir,      // fsync of the log directory after the first commit-log file is created
  kRegisterIndex,       // WAL sync of the shuffle record
  kExtentData,          // fdatasync of segment files after extents are written
  kLogData,             // fdatasync of commit-log files after regions are written
  kRoundIndex,          // WAL sync of a round's index batch (extents, log regions, commits)
  kRotateLogDir,        // fsync of the log directory after a rotation creates a new log file
  kRecoveryLogDir,      // fsync of the log directory after recovery starts a new log file
  kRecoveryIndex,       // WAL sync of the new epoch and recovery's clean-up batch
  kSealIndex,           // WAL sync of the sealed flag
  kRemoveIndex,         // WAL sync of a shuffle's removal, before its files are deleted
};

inline constexpr std::array<std::string_view, 13> kSyncSiteNames = {
    "open-dirs",        "register-root-dir", "register-shuffle-dir",
    "register-log-dir", "register-index",    "extent-data",
    "log-data",         "round-index",       "rotate-log-dir",
    "recovery-log-dir", "recovery-index",    "seal-index",
    "remove-index"};

constexpr std::string_view SyncSiteName(SyncSite site) {
  return kSyncSiteNames[static_cast<size_t>(site)];
}

#ifdef SHUFFLE_SYNC_REMOVAL
// True when `site` is named in SHUFFLE_REMOVE_SYNC (read once).
bool SyncRemoved(SyncSite site);
#else
constexpr bool SyncRemoved(SyncSite) { return false; }
#endif

// fsync of directory `path`, unless a sync-removal build removes `site`.
inline absl::Status SyncDirAt(Env& env, SyncSite site, const std::string& path) {
  return SyncRemoved(site) ? absl::OkStatus() : env.SyncDir(path);
}

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_SYNC_SITES_H_
