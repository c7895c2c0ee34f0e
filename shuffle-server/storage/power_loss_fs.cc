#include "shuffle-server/storage/power_loss_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <sys/stat.h>

#include "rocksdb/file_system.h"
#include "rocksdb/io_status.h"
#include "shuffle-server/storage/fault_injection_env.h"
#include "shuffle-server/storage/power_loss.h"

namespace shuffle::storage {
namespace {

using rocksdb::FileOptions;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

bool PathExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

IOStatus InjectedError(int error, const char* operation, const std::string& path) {
  const std::string message =
      std::string(operation) + " (injected) " + path + ": " + std::strerror(error);
  return error == ENOSPC ? IOStatus::NoSpace(message) : IOStatus::IOError(message);
}

IOStatus FromAbsl(const absl::Status& status) {
  if (status.ok()) {
    return IOStatus::OK();
  }
  return IOStatus::IOError(std::string(status.message()));
}

// A writable file of RocksDB's, its writes and syncs reported to the model through a descriptor
// of our own on the same file.
class TrackedWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedWritableFile(std::unique_ptr<rocksdb::FSWritableFile> target, FaultInjectionEnv* env,
                      const std::string& path)
      : FSWritableFileOwnerWrapper(std::move(target)),
        env_(env),
        fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~TrackedWritableFile() override {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  TrackedWritableFile(const TrackedWritableFile&) = delete;
  TrackedWritableFile& operator=(const TrackedWritableFile&) = delete;

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    WillAppend(data.size());
    return target()->Append(data, options, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    WillAppend(data.size());
    return target()->Append(data, options, info, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    if (env_->power() != nullptr && fd_ >= 0) {
      env_->power()->WillWrite(fd_, offset, data.size());
    }
    return target()->PositionedAppend(data, offset, options, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    if (env_->power() != nullptr && fd_ >= 0) {
      env_->power()->WillWrite(fd_, offset, data.size());
    }
    return target()->PositionedAppend(data, offset, options, info, dbg);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    if (env_->power() != nullptr && fd_ >= 0) {
      env_->power()->WillTruncate(fd_, size);
    }
    return target()->Truncate(size, options, dbg);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    IOStatus s = target()->Sync(options, dbg);
    Synced(s);
    return s;
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    IOStatus s = target()->Fsync(options, dbg);
    Synced(s);
    return s;
  }
  IOStatus Close(const IOOptions& options, IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    return target()->Close(options, dbg);
  }

 private:
  void WillAppend(size_t length) {
    struct stat st {};
    if (env_->power() != nullptr && fd_ >= 0 && fstat(fd_, &st) == 0) {
      env_->power()->WillWrite(fd_, static_cast<uint64_t>(st.st_size), length);
    }
  }
  void Synced(const IOStatus& s) {
    if (s.ok() && env_->power() != nullptr && fd_ >= 0) {
      env_->power()->Synced(fd_);
    }
  }

  FaultInjectionEnv* const env_;
  const int fd_;
};

class TrackedDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  TrackedDirectory(std::unique_ptr<rocksdb::FSDirectory> target, FaultInjectionEnv* env,
                   std::string path)
      : FSDirectoryWrapper(std::move(target)), env_(env), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    return Sync([&] { return FSDirectoryWrapper::Fsync(options, dbg); });
  }
  IOStatus FsyncWithDirOptions(const IOOptions& options, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    // Always a real directory fsync: the model knows no file-system-specific shortcut.
    return Sync([&] { return FSDirectoryWrapper::Fsync(options, dbg); });
  }

 private:
  template <typename F>
  IOStatus Sync(F fsync) {
    if (int error = env_->MatchOp(FsOp::kSyncDir, path_); error != 0) {
      return InjectedError(error, "fsync directory", path_);
    }
    PowerLoss::Operation operation(env_->power());
    IOStatus s = fsync();
    if (s.ok() && env_->power() != nullptr) {
      env_->power()->DirSynced(path_);
    }
    return s;
  }

  FaultInjectionEnv* const env_;
  const std::string path_;
};

class PowerLossFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerLossFileSystem(FaultInjectionEnv* env)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), env_(env) {}

  const char* Name() const override { return "ShufflePowerLossFileSystem"; }

  IOStatus NewWritableFile(const std::string& path, const FileOptions& options,
                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                           IODebugContext* dbg) override {
    return OpenWritable(
        path, /*truncate=*/true,
        [&] { return target()->NewWritableFile(path, options, result, dbg); }, result);
  }
  IOStatus ReopenWritableFile(const std::string& path, const FileOptions& options,
                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                              IODebugContext* dbg) override {
    return OpenWritable(
        path, /*truncate=*/false,
        [&] { return target()->ReopenWritableFile(path, options, result, dbg); }, result);
  }
  IOStatus ReuseWritableFile(const std::string& path, const std::string& old_path,
                             const FileOptions& options,
                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                             IODebugContext* dbg) override {
    return IOStatus::NotSupported("ReuseWritableFile under the power-loss model");
  }
  IOStatus NewRandomRWFile(const std::string& path, const FileOptions& options,
                           std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                           IODebugContext* dbg) override {
    return IOStatus::NotSupported("NewRandomRWFile under the power-loss model");
  }
  IOStatus NewDirectory(const std::string& path, const IOOptions& options,
                        std::unique_ptr<rocksdb::FSDirectory>* result,
                        IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> dir;
    IOStatus s = target()->NewDirectory(path, options, &dir, dbg);
    if (s.ok()) {
      *result = std::make_unique<TrackedDirectory>(std::move(dir), env_, path);
    }
    return s;
  }
  IOStatus DeleteFile(const std::string& path, const IOOptions& options,
                      IODebugContext* dbg) override {
    return Remove(path, "unlink", [&] { return target()->DeleteFile(path, options, dbg); });
  }
  IOStatus DeleteDir(const std::string& path, const IOOptions& options,
                     IODebugContext* dbg) override {
    return Remove(path, "rmdir", [&] { return target()->DeleteDir(path, options, dbg); });
  }
  IOStatus CreateDir(const std::string& path, const IOOptions& options,
                     IODebugContext* dbg) override {
    if (env_->power() == nullptr || PathExists(path)) {
      return target()->CreateDir(path, options, dbg);  // fails when it exists, as mkdir(2)
    }
    return CreateDirIfMissing(path, options, dbg);
  }
  IOStatus CreateDirIfMissing(const std::string& path, const IOOptions& options,
                              IODebugContext* dbg) override {
    if (int error = env_->MatchOp(FsOp::kCreateDirs, path); error != 0) {
      return InjectedError(error, "mkdir", path);
    }
    PowerLoss::Operation operation(env_->power());
    if (env_->power() == nullptr) {
      return target()->CreateDirIfMissing(path, options, dbg);
    }
    return FromAbsl(env_->power()->CreateDirs(path));
  }
  IOStatus RenameFile(const std::string& from, const std::string& to, const IOOptions& options,
                      IODebugContext* dbg) override {
    if (int error = env_->MatchOp(FsOp::kRename, to); error != 0) {
      return InjectedError(error, "rename", from + " to " + to);
    }
    PowerLoss::Operation operation(env_->power());
    if (env_->power() == nullptr) {
      return target()->RenameFile(from, to, options, dbg);
    }
    return FromAbsl(env_->power()->Rename(from, to));
  }
  IOStatus LinkFile(const std::string& from, const std::string& to, const IOOptions& options,
                    IODebugContext* dbg) override {
    return IOStatus::NotSupported("LinkFile under the power-loss model");
  }
  IOStatus Truncate(const std::string& path, size_t size, const IOOptions& options,
                    IODebugContext* dbg) override {
    if (int error = env_->MatchOp(FsOp::kTruncate, path); error != 0) {
      return InjectedError(error, "truncate", path);
    }
    PowerLoss::Operation operation(env_->power());
    if (env_->power() != nullptr) {
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        env_->power()->WillTruncate(fd, size);
        close(fd);
      }
    }
    return target()->Truncate(path, size, options, dbg);
  }
  IOStatus LockFile(const std::string& path, const IOOptions& options, rocksdb::FileLock** lock,
                    IODebugContext* dbg) override {
    PowerLoss::Operation operation(env_->power());
    const bool existed = PathExists(path);
    IOStatus s = target()->LockFile(path, options, lock, dbg);
    if (s.ok() && !existed && env_->power() != nullptr) {
      env_->power()->Created(path);
    }
    return s;
  }

 private:
  // A removal, undoable by the model; `remove_target` when there is no model, or nothing to
  // remove (so a missing path fails as the target fails).
  template <typename F>
  IOStatus Remove(const std::string& path, const char* operation, F remove_target) {
    if (int error = env_->MatchOp(FsOp::kRemove, path); error != 0) {
      return InjectedError(error, operation, path);
    }
    PowerLoss::Operation op(env_->power());
    if (env_->power() == nullptr || !PathExists(path)) {
      return remove_target();
    }
    return FromAbsl(env_->power()->Remove(path));
  }

  template <typename F>
  IOStatus OpenWritable(const std::string& path, bool truncate, F open_target,
                        std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (int error = env_->MatchOp(FsOp::kOpen, path); error != 0) {
      return InjectedError(error, "open", path);
    }
    PowerLoss::Operation operation(env_->power());
    const bool existed = PathExists(path);
    if (existed && truncate && env_->power() != nullptr) {
      env_->power()->WillTruncatePath(path);
    }
    IOStatus s = open_target();
    if (!s.ok()) {
      return s;
    }
    if (!existed && env_->power() != nullptr) {
      env_->power()->Created(path);
    }
    *result = std::make_unique<TrackedWritableFile>(std::move(*result), env_, path);
    return s;
  }

  FaultInjectionEnv* const env_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewPowerLossFileSystem(FaultInjectionEnv* env) {
  return std::make_shared<PowerLossFileSystem>(env);
}

}  // namespace shuffle::storage
