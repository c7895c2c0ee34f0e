// The storage engine's named crash points (RocksDB's kill points): places between the steps of
// the write path where the engine calls Env::CrashPoint(name), so a crash test can stop the
// engine exactly there (FaultInjectionEnv::CrashAtPoint) and check that recovery copes. Each
// point sits after the step its name says is done and before the next one starts.
#ifndef SHUFFLE_SERVER_STORAGE_CRASH_POINTS_H_
#define SHUFFLE_SERVER_STORAGE_CRASH_POINTS_H_

#include <array>
#include <string_view>

namespace shuffle::storage::crash_point {

// Open: data and index directories created (and made durable).
inline constexpr std::string_view kOpenDirs = "open:dirs";
// Recovery: the new epoch is in the index.
inline constexpr std::string_view kRecoveryEpoch = "recovery:epoch";
// Recovery: one shuffle's files are cut back and its dead log files removed.
inline constexpr std::string_view kRecoveryShuffle = "recovery:shuffle";
// RegisterShuffle: directories and files created, index record not yet written.
inline constexpr std::string_view kRegisterFiles = "register:files";
// RegisterShuffle: the shuffle record is in the index.
inline constexpr std::string_view kRegisterIndexed = "register:indexed";
// I/O round: work collected (extents allocated, log regions reserved), nothing written.
inline constexpr std::string_view kRoundCollected = "round:collected";
// I/O round: extents and log regions written, not yet synced.
inline constexpr std::string_view kRoundWritten = "round:written";
// I/O round: data fdatasync'd, the index batch not yet written.
inline constexpr std::string_view kRoundSynced = "round:synced";
// I/O round: the index batch is written (synced); commits not yet acknowledged.
inline constexpr std::string_view kRoundIndexed = "round:indexed";
// I/O round: outcome applied, commits acknowledged, dead log files removed.
inline constexpr std::string_view kRoundApplied = "round:applied";
// Commit log: a new log file was created for a rotation.
inline constexpr std::string_view kLogRotated = "log:rotated";
// RemoveShuffle: index records deleted, files not yet removed.
inline constexpr std::string_view kRemoveIndexed = "remove:indexed";
// Seal: the sealed flag is in the index.
inline constexpr std::string_view kSealIndexed = "seal:indexed";

inline constexpr std::array<std::string_view, 13> kAll = {
    kOpenDirs,       kRecoveryEpoch, kRecoveryShuffle, kRegisterFiles, kRegisterIndexed,
    kRoundCollected, kRoundWritten,  kRoundSynced,     kRoundIndexed,  kRoundApplied,
    kLogRotated,     kRemoveIndexed, kSealIndexed};

}  // namespace shuffle::storage::crash_point

#endif  // SHUFFLE_SERVER_STORAGE_CRASH_POINTS_H_
