// The default Env: POSIX calls for files and directories, io_uring for batched I/O.
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/env.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {
namespace {

// The most bytes Linux moves in one read or write (MAX_RW_COUNT); longer ops are clamped to it
// and complete as short transfers, which RunToCompletion resumes.
constexpr size_t kMaxIoLength = 0x7ffff000;
// How often Submit retries a ring that keeps answering EAGAIN/EBUSY with nothing in flight.
constexpr int kMaxBusyRetries = 10000;

// Retries a system call interrupted by a signal.
template <typename F>
auto RetryOnEintr(F call) {
  auto ret = call();
  while (ret == -1 && errno == EINTR) {
    ret = call();
  }
  return ret;
}

// An open file descriptor. Thread-safe: every method is a single system call on the fd.
class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path, bool direct)
      : fd_(fd), path_(std::move(path)), direct_(direct) {}
  ~PosixFile() override { close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  int fd() const override { return fd_; }
  const std::string& path() const override { return path_; }
  bool direct() const override { return direct_; }

  absl::Status Truncate(uint64_t size) override {
    if (RetryOnEintr([&] { return ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return core::ErrnoToStatus(errno, "ftruncate", absl::StrCat(path_, " to ", size, " bytes"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat st {};
    if (fstat(fd_, &st) != 0) {
      return core::ErrnoToStatus(errno, "fstat", path_);
    }
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status Allocate(uint64_t offset, uint64_t length) override {
    if (RetryOnEintr([&] {
          return fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
        }) != 0) {
      const int error = errno;
      const std::string what = absl::StrCat(path_, " [", offset, ", +", length, ")");
      if (error == EOPNOTSUPP) {
        return absl::UnimplementedError(absl::StrCat("fallocate is not supported for ", what));
      }
      return core::ErrnoToStatus(error, "fallocate", what);
    }
    return absl::OkStatus();
  }

 private:
  const int fd_;
  const std::string path_;
  const bool direct_;
};

// An io_uring ring. Not thread-safe: one per submitting thread.
class UringIoEngine final : public IoEngine {
 public:
  static absl::StatusOr<std::unique_ptr<IoEngine>> Create(uint32_t queue_depth) {
    if (queue_depth == 0) {
      return absl::InvalidArgumentError("io_uring queue depth must be positive");
    }
    auto engine = std::unique_ptr<UringIoEngine>(new UringIoEngine(queue_depth));
    const int ret = io_uring_queue_init(queue_depth, &engine->ring_, 0);
    if (ret < 0) {
      return core::Annotate(core::ErrnoToStatus(-ret, "io_uring_queue_init",
                                                absl::StrCat("with queue depth ", queue_depth)),
                            "io_uring is unavailable");
    }
    engine->initialized_ = true;
    return std::unique_ptr<IoEngine>(std::move(engine));
  }

  ~UringIoEngine() override {
    if (initialized_) {
      io_uring_queue_exit(&ring_);
    }
  }
  UringIoEngine(const UringIoEngine&) = delete;
  UringIoEngine& operator=(const UringIoEngine&) = delete;

  absl::Status Submit(std::span<IoOp> ops) override {
    size_t next = 0;       // the next op to put on the submission queue
    size_t completed = 0;  // ops whose completion has been reaped
    int busy_retries = 0;
    while (completed < ops.size()) {
      // Keep at most queue_depth_ ops between submission and reaping, so the completion queue
      // (twice the submission queue) can never overflow.
      while (next < ops.size() && next - completed < queue_depth_) {
        IoOp& op = ops[next];
        if (op.file == nullptr) {
          op.result = -EBADF;
          ++next;
          ++completed;
          continue;
        }
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) {
          break;
        }
        Prepare(sqe, op);
        io_uring_sqe_set_data64(sqe, next);
        ++next;
      }
      if (completed == ops.size()) {
        break;
      }
      const int ret = io_uring_submit_and_wait(&ring_, 1);
      if (ret < 0) {
        if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
          return core::ErrnoToStatus(-ret, "io_uring_enter", "(submit and wait)");
        }
        if (ret != -EINTR) {
          // The kernel is short of resources: let in-flight ops finish before trying again.
          const size_t unconsumed = io_uring_sq_ready(&ring_);
          const size_t in_kernel = next - completed - unconsumed;
          if (in_kernel > 0) {
            io_uring_cqe* cqe = nullptr;
            const int wait_ret = io_uring_wait_cqe(&ring_, &cqe);
            if (wait_ret < 0 && wait_ret != -EINTR && wait_ret != -EAGAIN) {
              return core::ErrnoToStatus(-wait_ret, "io_uring_wait_cqe", "(completion)");
            }
          } else if (++busy_retries > kMaxBusyRetries) {
            return core::ErrnoToStatus(-ret, "io_uring_enter", "(kernel kept refusing submission)");
          } else {
            sched_yield();
          }
        }
      }
      completed += Reap(ops);
    }
    return absl::OkStatus();
  }

  const IoStats& stats() const override { return stats_; }

 private:
  explicit UringIoEngine(uint32_t queue_depth) : queue_depth_(queue_depth) {}

  void Prepare(io_uring_sqe* sqe, const IoOp& op) {
    const int fd = op.file->fd();
    const auto length = static_cast<unsigned>(std::min(op.length, kMaxIoLength));
    switch (op.kind) {
      case IoKind::kRead:
        io_uring_prep_read(sqe, fd, op.buffer, length, op.offset);
        ++stats_.reads;
        break;
      case IoKind::kWrite:
        io_uring_prep_write(sqe, fd, op.buffer, length, op.offset);
        ++stats_.writes;
        break;
      case IoKind::kSync:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        ++stats_.syncs;
        break;
    }
  }

  // Consumes every available completion; returns how many.
  size_t Reap(std::span<IoOp> ops) {
    size_t reaped = 0;
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) {
      IoOp& op = ops[io_uring_cqe_get_data64(cqe)];
      op.result = cqe->res;
      if (cqe->res > 0) {
        if (op.kind == IoKind::kRead) {
          stats_.bytes_read += static_cast<uint64_t>(cqe->res);
        } else if (op.kind == IoKind::kWrite) {
          stats_.bytes_written += static_cast<uint64_t>(cqe->res);
        }
      }
      io_uring_cqe_seen(&ring_, cqe);
      ++reaped;
    }
    return reaped;
  }

  const uint32_t queue_depth_;
  io_uring ring_{};
  bool initialized_ = false;
  IoStats stats_;
};

// Thread-safe: holds no state of its own.
class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 const OpenOptions& options) override {
    int flags = O_CLOEXEC | (options.read_only ? O_RDONLY : O_RDWR);
    if (options.create) {
      flags |= O_CREAT;
    }
    bool direct = options.direct;
    int fd = Open(path, direct ? flags | O_DIRECT : flags);
    if (fd < 0 && direct && errno == EINVAL) {
      // The file system does not do O_DIRECT (tmpfs): fall back to buffered I/O.
      direct = false;
      fd = Open(path, flags);
    }
    if (fd < 0) {
      return core::ErrnoToStatus(errno, "open", path);
    }
    return std::unique_ptr<File>(new PosixFile(fd, path, direct));
  }

  absl::StatusOr<std::unique_ptr<IoEngine>> NewIoEngine(uint32_t queue_depth) override {
    return UringIoEngine::Create(queue_depth);
  }

  absl::Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
      return core::ErrnoToStatus(ec.value(), "mkdir -p", path);
    }
    return absl::OkStatus();
  }

  absl::Status RemoveFile(const std::string& path) override {
    if (unlink(path.c_str()) != 0) {
      return core::ErrnoToStatus(errno, "unlink", path);
    }
    return absl::OkStatus();
  }

  absl::Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return core::ErrnoToStatus(ec.value(), "rm -rf", path);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), &closedir);
    if (dir == nullptr) {
      return core::ErrnoToStatus(errno, "opendir", path);
    }
    std::vector<std::string> names;
    while (true) {
      errno = 0;
      const dirent* entry = readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) {
          return core::ErrnoToStatus(errno, "readdir", path);
        }
        break;
      }
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") {
        names.emplace_back(name);
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  bool FileExists(const std::string& path) override {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
  }

  absl::Status SyncDir(const std::string& path) override {
    const int fd = Open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return core::ErrnoToStatus(errno, "open directory", path);
    }
    absl::Status status;
    if (RetryOnEintr([&] { return fsync(fd); }) != 0) {
      status = core::ErrnoToStatus(errno, "fsync directory", path);
    }
    close(fd);
    return status;
  }

  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override {
    struct statvfs st {};
    if (RetryOnEintr([&] { return statvfs(path.c_str(), &st); }) != 0) {
      return core::ErrnoToStatus(errno, "statvfs", path);
    }
    DiskSpace space;
    space.capacity_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
    space.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    return space;
  }

 private:
  static int Open(const std::string& path, int flags) {
    return RetryOnEintr([&] { return open(path.c_str(), flags, 0644); });
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();
  return env;
}

}  // namespace shuffle::storage
