#include "shuffle-server/sparkess/block_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/coding.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::sparkess {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 19) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool AllAlnum(std::string_view s) {
  if (s.empty() || s.size() > 16) {
    return false;
  }
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// "A_B_C..." split on '_' into exactly `n` decimal fields after `prefix`.
bool DecimalFields(std::string_view s, std::string_view prefix, int n) {
  if (!absl::StartsWith(core::ToAbsl(s), core::ToAbsl(prefix))) {
    return false;
  }
  s.remove_prefix(prefix.size());
  for (int i = 0; i < n; ++i) {
    const size_t end = i + 1 < n ? s.find('_') : s.size();
    if (end == std::string_view::npos || !AllDigits(s.substr(0, end))) {
      return false;
    }
    s.remove_prefix(end == s.size() ? end : end + 1);
  }
  return s.empty();
}

}  // namespace

int32_t JavaStringHash(std::string_view ascii) {
  uint32_t h = 0;
  for (char c : ascii) {
    h = 31 * h + static_cast<unsigned char>(c);
  }
  return static_cast<int32_t>(h);
}

std::string BlockFilePath(const ExecutorShuffleInfo& info, std::string_view file_name) {
  // JavaUtils.nonNegativeHash: Integer.MIN_VALUE maps to 0, else the absolute value.
  const int32_t raw = JavaStringHash(file_name);
  const int32_t hash = raw == INT32_MIN ? 0 : (raw < 0 ? -raw : raw);
  const auto dirs = static_cast<int32_t>(info.local_dirs.size());
  const std::string& dir = info.local_dirs[static_cast<size_t>(hash % dirs)];
  const int32_t sub = (hash / dirs) % info.sub_dirs_per_local_dir;
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%02x", sub);
  return absl::StrCat(dir, "/", hex, "/", core::ToAbsl(file_name));
}

bool IsServableFileName(std::string_view name) {
  if (DecimalFields(name, "rdd_", 2)) {
    return true;
  }
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || !DecimalFields(name.substr(0, dot), "shuffle_", 3)) {
    return false;
  }
  const std::string_view ext = name.substr(dot + 1);
  if (ext == "data" || ext == "index") {
    return true;
  }
  return absl::StartsWith(core::ToAbsl(ext), "checksum.") && AllAlnum(ext.substr(9));
}

OpenFile::~OpenFile() { ::close(fd_); }

absl::StatusOr<std::unique_ptr<BlockFiles>> BlockFiles::Open(std::string root,
                                                             size_t max_open_files) {
  const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return core::ErrnoToStatus(errno, "open Spark local dirs root (--spark-local-dirs-root)", root);
  }
  return std::unique_ptr<BlockFiles>(new BlockFiles(std::move(root), fd, max_open_files));
}

BlockFiles::~BlockFiles() { ::close(root_fd_); }

absl::StatusOr<std::shared_ptr<const OpenFile>> BlockFiles::OpenFileAt(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_path_.find(path);
    if (it != by_path_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return *it->second;
    }
  }
  SHUFFLE_ASSIGN_OR_RETURN(const int fd, OpenBeneath(path, O_RDONLY | O_CLOEXEC));
  auto file = std::make_shared<const OpenFile>(fd, path);
  std::lock_guard<std::mutex> lock(mu_);
  if (by_path_.contains(path)) {
    return file;  // another thread cached it meanwhile; this one closes after use
  }
  lru_.push_front(file);
  by_path_[path] = lru_.begin();
  while (lru_.size() > max_open_files_) {
    by_path_.erase(lru_.back()->path());
    lru_.pop_back();
  }
  return file;
}

absl::StatusOr<int> BlockFiles::OpenBeneath(const std::string& path, uint64_t flags) const {
  const std::string prefix = root_ == "/" ? root_ : root_ + "/";
  if (!absl::StartsWith(path, prefix)) {
    return absl::PermissionDeniedError(absl::StrCat(path, " is outside ", root_));
  }
  open_how how{};
  how.flags = flags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string relative = path.substr(prefix.size());
  const int fd =
      static_cast<int>(::syscall(SYS_openat2, root_fd_, relative.c_str(), &how, sizeof(how)));
  if (fd < 0) {
    return core::ErrnoToStatus(errno, "open", path);
  }
  return fd;
}

absl::Status BlockFiles::Remove(const std::string& path) {
  const size_t slash = path.rfind('/');
  SHUFFLE_ASSIGN_OR_RETURN(const int dir,
                           OpenBeneath(path.substr(0, slash), O_PATH | O_DIRECTORY | O_CLOEXEC));
  const int rc = ::unlinkat(dir, path.c_str() + slash + 1, 0);
  const int error = errno;
  ::close(dir);
  Forget(path);
  return rc == 0 ? absl::OkStatus() : core::ErrnoToStatus(error, "unlink", path);
}

void BlockFiles::Forget(std::string_view prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (absl::StartsWith((*it)->path(), core::ToAbsl(prefix))) {
      by_path_.erase((*it)->path());
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t BlockFiles::open_files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

absl::StatusOr<int64_t> ReadBigEndianLong(const OpenFile& file, uint64_t index) {
  char buf[8];
  const ssize_t n = ::pread(file.fd(), buf, sizeof(buf), static_cast<off_t>(index * 8));
  if (n < 0) {
    return core::ErrnoToStatus(errno, "pread", file.path());
  }
  if (n != static_cast<ssize_t>(sizeof(buf))) {
    return absl::OutOfRangeError(
        absl::StrCat(file.path(), " has no entry ", index, " (it holds ", index, " or fewer)"));
  }
  return static_cast<int64_t>(core::GetBigEndian64(buf));
}

absl::StatusOr<FileSegment> BlockFiles::ShuffleBlocks(const ExecutorShuffleInfo& info,
                                                      int32_t shuffle_id, int64_t map_id,
                                                      int32_t start_reduce, int32_t end_reduce) {
  if (shuffle_id < 0 || map_id < 0 || start_reduce < 0 || end_reduce < start_reduce) {
    return absl::InvalidArgumentError(absl::StrCat("invalid block: shuffle ", shuffle_id, " map ",
                                                   map_id, " reduce [", start_reduce, ", ",
                                                   end_reduce, ")"));
  }
  const std::string base = absl::StrCat("shuffle_", shuffle_id, "_", map_id, "_0");
  SHUFFLE_ASSIGN_OR_RETURN(std::shared_ptr<const OpenFile> index,
                           OpenFileAt(BlockFilePath(info, base + ".index")));
  SHUFFLE_ASSIGN_OR_RETURN(int64_t begin, ReadBigEndianLong(*index, start_reduce));
  SHUFFLE_ASSIGN_OR_RETURN(int64_t end, ReadBigEndianLong(*index, end_reduce));
  SHUFFLE_ASSIGN_OR_RETURN(std::shared_ptr<const OpenFile> data,
                           OpenFileAt(BlockFilePath(info, base + ".data")));
  struct stat st {};
  if (begin < 0 || end < begin || ::fstat(data->fd(), &st) != 0 || end > st.st_size) {
    return absl::DataLossError(absl::StrCat(
        "index ", index->path(), " gives [", begin, ", ", end, ") for reduce [", start_reduce, ", ",
        end_reduce, "), outside data file ", data->path(), " (", st.st_size, " bytes)"));
  }
  return FileSegment{.file = std::move(data),
                     .offset = static_cast<uint64_t>(begin),
                     .length = static_cast<uint64_t>(end - begin)};
}

absl::StatusOr<FileSegment> BlockFiles::RddBlock(const ExecutorShuffleInfo& info, int32_t rdd_id,
                                                 int32_t split) {
  if (rdd_id < 0 || split < 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid rdd block ", rdd_id, "_", split));
  }
  SHUFFLE_ASSIGN_OR_RETURN(
      std::shared_ptr<const OpenFile> file,
      OpenFileAt(BlockFilePath(info, absl::StrCat("rdd_", rdd_id, "_", split))));
  struct stat st {};
  if (::fstat(file->fd(), &st) != 0) {
    return core::ErrnoToStatus(errno, "fstat", file->path());
  }
  return FileSegment{
      .file = std::move(file), .offset = 0, .length = static_cast<uint64_t>(st.st_size)};
}

}  // namespace shuffle::sparkess
