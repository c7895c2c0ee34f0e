// A RocksDB FileSystem for the index under a FaultInjectionEnv (test-only): it forwards to
// RocksDB's default file system and reports RocksDB's file writes, truncations and syncs, and its
// created, removed and renamed directory entries and directory syncs, to the env's PowerLoss
// model, so a power cut drops what RocksDB did not sync, exactly as for the engine's own files.
// The env's namespace faults (FsOp: kSyncDir, kRemove, kRename, kCreateDirs, kOpen, kTruncate)
// apply to RocksDB's operations as well; data faults (IoKind) do not.
//
// RocksDB ships a FaultInjectionTestFS in its test utilities, but Debian's librocksdb-dev does
// not install its header, so this is our own wrapper over the public rocksdb::FileSystemWrapper.
// The files RocksDB would open with NewRandomRWFile or ReuseWritableFile (not used by the index's
// options) are refused, so nothing escapes the model unseen.
//
// Thread-safety: as any rocksdb::FileSystem, safe to share.
#ifndef SHUFFLE_SERVER_STORAGE_POWER_LOSS_FS_H_
#define SHUFFLE_SERVER_STORAGE_POWER_LOSS_FS_H_

#include <memory>

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace shuffle::storage {

class FaultInjectionEnv;

// `env` must outlive the file system. Without a PowerLoss on `env` only faults apply.
std::shared_ptr<rocksdb::FileSystem> NewPowerLossFileSystem(FaultInjectionEnv* env);

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_POWER_LOSS_FS_H_
