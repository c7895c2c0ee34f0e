// The storage engine's window on the operating system (leveldb's Env idea): files, directories,
// disk space, batched I/O through an IoEngine, and the file system the index (RocksDB) uses. The
// default Env uses POSIX calls and io_uring; FaultInjectionEnv (fault_injection_env.h, test-only)
// wraps any Env to inject EIO, ENOSPC, short transfers and crashes at chosen operations or named
// crash points, and to model power loss (power_loss.h), so tests can reach every error path.
//
// Thread-safety: an Env and its Files are safe to use from any thread. An IoEngine is not: each
// thread that submits I/O owns its own (one io_uring ring per I/O thread).
#ifndef SHUFFLE_SERVER_STORAGE_ENV_H_
#define SHUFFLE_SERVER_STORAGE_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace shuffle::storage {

// O_DIRECT files need offsets, lengths and buffer addresses aligned to this.
inline constexpr size_t kDirectIoAlignment = 4096;

struct OpenOptions {
  bool create = true;      // create the file when missing
  bool read_only = false;  // open O_RDONLY instead of O_RDWR
  // Try O_DIRECT; when the file system refuses it (EINVAL, e.g. tmpfs), fall back to buffered
  // I/O. File::direct() says which was granted.
  bool direct = false;
};

// An open file. It owns the descriptor; positional reads, writes and syncs go through an
// IoEngine.
class File {
 public:
  virtual ~File() = default;

  virtual int fd() const = 0;
  virtual const std::string& path() const = 0;
  // True when the file is open with O_DIRECT: every I/O on it must be kDirectIoAlignment-aligned
  // in offset, length and buffer address.
  virtual bool direct() const = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  // Reserves the disk blocks of [offset, offset + length) and extends the file over them
  // (fallocate, mode 0): direct writes into the range then neither allocate blocks nor extend
  // the file, so they do not take the inode lock exclusively. The bytes read as zeros until
  // written. UNIMPLEMENTED when the file system cannot preallocate.
  virtual absl::Status Allocate(uint64_t offset, uint64_t length) = 0;
};

enum class IoKind { kRead, kWrite, kSync };

// One I/O operation. kSync is fdatasync of `file` (offset, buffer and length are ignored).
struct IoOp {
  IoKind kind = IoKind::kRead;
  File* file = nullptr;
  uint64_t offset = 0;
  char* buffer = nullptr;  // read: destination; write: source
  size_t length = 0;
  // Filled by IoEngine::Submit: bytes transferred (possibly fewer than `length`), 0 for a
  // completed sync, or -errno.
  int64_t result = 0;
};

// Counters of operations an IoEngine has submitted (one per IoOp, including resubmissions of
// short transfers). Tests count disk reads with these.
struct IoStats {
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t syncs = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
};

// Submits batches of I/O and waits for them. Not thread-safe: one per submitting thread.
class IoEngine {
 public:
  virtual ~IoEngine() = default;

  // Submits every op in one batch (as far as the queue depth allows) and waits until all have
  // completed, filling op.result. Per-op failures are reported in op.result, not in the returned
  // status, which is non-OK only when the engine itself is broken.
  virtual absl::Status Submit(std::span<IoOp> ops) = 0;

  virtual const IoStats& stats() const = 0;
};

// Runs `ops` to completion on `engine`: resubmits the remainder of short reads and writes until
// done, and fails a read that reaches end of file early with DATA_LOSS. Every op is attempted.
// Returns the first failure, as a Status naming the operation, path and offset. When `per_op`
// is given it receives one Status per op, in order.
absl::Status RunToCompletion(IoEngine& engine, std::span<IoOp> ops,
                             std::vector<absl::Status>* per_op = nullptr);

struct DiskSpace {
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;  // available to unprivileged users (statvfs f_bavail)
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX + io_uring Env. Never deleted.
  static Env* Default();

  virtual absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                         const OpenOptions& options) = 0;
  // A new io_uring-backed engine with room for `queue_depth` ops in flight.
  virtual absl::StatusOr<std::unique_ptr<IoEngine>> NewIoEngine(uint32_t queue_depth) = 0;

  // mkdir -p.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  // rm -rf; OK when the path does not exist.
  virtual absl::Status RemoveAll(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // fsync of a directory, so that created or removed entries are durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  virtual absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) = 0;

  // The file system the index's RocksDB works through; null: RocksDB's default. A test Env
  // returns a wrapper that sees RocksDB's writes, syncs and renames too.
  virtual std::shared_ptr<rocksdb::FileSystem> IndexFileSystem() { return nullptr; }

  // A named crash point (RocksDB's kill points): the engine calls it between the steps that must
  // survive a crash in order ("round:data-synced", ...; the list is in crash_points.h). The
  // default does nothing; a test Env may cut the power here.
  virtual void CrashPoint(std::string_view name) {}
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_ENV_H_
