#include "bench/harness/disk_baseline.h"

#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/harness/scoped_fd.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::bench {
namespace {

constexpr size_t kAlignment = 4096;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedChunk = std::unique_ptr<char, FreeDeleter>;

// An io_uring instance, torn down when destroyed.
class Ring {
 public:
  Ring() = default;
  ~Ring() {
    if (initialised_) {
      io_uring_queue_exit(&ring_);
    }
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  absl::Status Init(uint32_t depth) {
    const int rc = io_uring_queue_init(depth, &ring_, 0);
    if (rc < 0) {
      return core::ErrnoToStatus(-rc, "io_uring_queue_init", "the disk baseline");
    }
    initialised_ = true;
    return absl::OkStatus();
  }
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
  bool initialised_ = false;
};

// Runs bytes / chunk operations of one kind over `fd`, at most `depth` in flight, each on its
// own buffer, in file order.
absl::Status RunSequential(int fd, bool write, const DirectIoSpec& spec,
                           std::vector<AlignedChunk>& buffers) {
  Ring ring;
  SHUFFLE_RETURN_IF_ERROR(ring.Init(spec.queue_depth));
  const uint64_t total_ops = spec.bytes / spec.chunk_bytes;
  uint64_t submitted = 0;
  uint64_t completed = 0;
  std::vector<uint32_t> free_slots;
  for (uint32_t s = 0; s < spec.queue_depth; ++s) {
    free_slots.push_back(s);
  }
  // Every iteration completes at least one operation: the loop is bounded by total_ops.
  while (completed < total_ops) {
    while (submitted < total_ops && !free_slots.empty()) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
      if (sqe == nullptr) {
        break;
      }
      const uint32_t slot = free_slots.back();
      free_slots.pop_back();
      const uint64_t offset = submitted * spec.chunk_bytes;
      if (write) {
        io_uring_prep_write(sqe, fd, buffers[slot].get(), spec.chunk_bytes, offset);
      } else {
        io_uring_prep_read(sqe, fd, buffers[slot].get(), spec.chunk_bytes, offset);
      }
      io_uring_sqe_set_data64(sqe, slot);
      ++submitted;
    }
    const int rc = io_uring_submit_and_wait(ring.get(), 1);
    if (rc < 0) {
      return core::ErrnoToStatus(-rc, "io_uring_submit_and_wait", spec.path);
    }
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(ring.get(), &cqe) == 0) {
      const int res = cqe->res;
      free_slots.push_back(static_cast<uint32_t>(io_uring_cqe_get_data64(cqe)));
      io_uring_cqe_seen(ring.get(), cqe);
      if (res < 0) {
        return core::ErrnoToStatus(-res, write ? "O_DIRECT write" : "O_DIRECT read", spec.path);
      }
      if (static_cast<uint32_t>(res) != spec.chunk_bytes) {
        return absl::DataLossError(absl::StrCat("short ", write ? "write" : "read", " of ",
                                                spec.path, ": ", res, " of ", spec.chunk_bytes,
                                                " bytes"));
      }
      ++completed;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AlignedChunk>> AllocateChunks(const DirectIoSpec& spec) {
  if (spec.chunk_bytes == 0 || spec.chunk_bytes % kAlignment != 0 || spec.queue_depth == 0 ||
      spec.bytes == 0 || spec.bytes % spec.chunk_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "disk baseline: ", spec.bytes, " bytes in chunks of ", spec.chunk_bytes, " at depth ",
        spec.queue_depth, ": need whole 4 KiB-aligned chunks and a positive depth"));
  }
  std::vector<AlignedChunk> buffers;
  std::mt19937_64 random(42);
  for (uint32_t i = 0; i < spec.queue_depth; ++i) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, spec.chunk_bytes) != 0) {
      return absl::ResourceExhaustedError("disk baseline: cannot allocate aligned buffers");
    }
    buffers.emplace_back(static_cast<char*>(p));
    for (uint32_t off = 0; off < spec.chunk_bytes; off += sizeof(uint64_t)) {
      const uint64_t word = random();
      std::memcpy(buffers.back().get() + off, &word, sizeof(word));
    }
  }
  return buffers;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::StatusOr<DirectIoResult> DirectWrite(const DirectIoSpec& spec) {
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<AlignedChunk> buffers, AllocateChunks(spec));
  ScopedFd fd(open(spec.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return core::ErrnoToStatus(errno, "open with O_DIRECT (does the file system support it?)",
                               spec.path);
  }
  const auto start = std::chrono::steady_clock::now();
  if (spec.preallocate && fallocate(fd.get(), 0, 0, static_cast<off_t>(spec.bytes)) != 0) {
    return core::ErrnoToStatus(errno, "fallocate", spec.path);
  }
  SHUFFLE_RETURN_IF_ERROR(RunSequential(fd.get(), /*write=*/true, spec, buffers));
  if (fdatasync(fd.get()) != 0) {
    return core::ErrnoToStatus(errno, "fdatasync", spec.path);
  }
  return DirectIoResult{.bytes = spec.bytes, .seconds = SecondsSince(start)};
}

absl::StatusOr<DirectIoResult> DirectRead(const DirectIoSpec& spec) {
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<AlignedChunk> buffers, AllocateChunks(spec));
  ScopedFd fd(open(spec.path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
  if (!fd.valid()) {
    return core::ErrnoToStatus(errno, "open with O_DIRECT", spec.path);
  }
  const auto start = std::chrono::steady_clock::now();
  SHUFFLE_RETURN_IF_ERROR(RunSequential(fd.get(), /*write=*/false, spec, buffers));
  return DirectIoResult{.bytes = spec.bytes, .seconds = SecondsSince(start)};
}

bool DropPageCache() {
  sync();
  std::ofstream out("/proc/sys/vm/drop_caches");
  out << "3\n";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace shuffle::bench
