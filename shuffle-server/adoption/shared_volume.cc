#include "shuffle-server/adoption/shared_volume.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "shuffle/core/files.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::adoption {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxNodeNameBytes = 253;  // a Kubernetes node name's limit

// The lock file a running server holds (RocksDB's, in the engine's default index directory).
std::string LockFile(const std::string& dir) { return dir + "/index/LOCK"; }

// A whole-file write lock as an open file description's lock.
struct flock WholeFile() {
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;
  return lock;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

SharedVolume::SharedVolume(std::string root) : root_(std::move(root)) {}

absl::Status SharedVolume::CheckNodeName(const std::string& node) {
  if (node.empty() || node.size() > kMaxNodeNameBytes || node.find('/') != std::string::npos ||
      node.front() == '.') {
    return absl::InvalidArgumentError(absl::StrCat("\"", node, "\" is not a node name (1-",
                                                   kMaxNodeNameBytes,
                                                   " bytes, no '/', not starting with '.')"));
  }
  return absl::OkStatus();
}

std::string SharedVolume::NodeDir(const std::string& node) const {
  return absl::StrCat(root_, "/", node);
}

std::string SharedVolume::AdoptedDir() const { return root_ + "/.adopted"; }

std::string SharedVolume::RecordPath(const std::string& node) const {
  return absl::StrCat(AdoptedDir(), "/", node, ".adoption");
}

SharedVolume::DirState SharedVolume::StateOf(const std::string& dir) {
  const Fd fd(open(LockFile(dir).c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    return DirState::kAbsent;
  }
  struct flock lock = WholeFile();
  if (fcntl(fd.get(), F_OFD_GETLK, &lock) != 0) {
    return DirState::kInUse;  // cannot tell: never take a directory that may be held
  }
  return lock.l_type == F_UNLCK ? DirState::kFree : DirState::kInUse;
}

absl::StatusOr<std::string> SharedVolume::ClaimNodeDir(const std::string& node) const {
  SHUFFLE_RETURN_IF_ERROR(CheckNodeName(node));
  const std::string dir = NodeDir(node);
  const Fd fd(open(LockFile(dir).c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    return absl::NotFoundError(absl::StrCat("node ", node, " has no data directory at ", dir, " (",
                                            std::strerror(errno), ")"));
  }
  struct flock lock = WholeFile();
  if (fcntl(fd.get(), F_OFD_SETLK, &lock) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", node, "'s data directory ", dir,
        " is held by a running server (its own, or its lock has not expired yet on the shared "
        "filesystem)"));
  }
  std::error_code ec;
  fs::create_directories(AdoptedDir(), ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", AdoptedDir(), ": ", ec.message()));
  }
  const std::string adopted =
      absl::StrCat(AdoptedDir(), "/", node, "@", absl::ToUnixMillis(absl::Now()));
  fs::rename(dir, adopted, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot move ", dir, " to ", adopted, ": ", ec.message()));
  }
  return adopted;  // the lock goes with `fd`; the adopting engine takes its own
}

std::optional<AdoptionRecord> SharedVolume::ReadRecord(const std::string& node) const {
  absl::StatusOr<std::string> text = core::ReadFileToString(RecordPath(node));
  if (!text.ok()) {
    return std::nullopt;
  }
  AdoptionRecord record;
  for (const std::string& line :
       std::vector<std::string>(absl::StrSplit(*text, '\n', absl::SkipEmpty()))) {
    const std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      return std::nullopt;
    }
    if (kv[0] == "dir") {
      record.dir = kv[1];
    } else if (kv[0] == "data") {
      record.data_address = kv[1];
    } else if (kv[0] == "control") {
      record.control_address = kv[1];
    } else if (kv[0] == "by") {
      record.adopted_by = kv[1];
    }
  }
  if (record.dir.empty()) {
    return std::nullopt;
  }
  return record;
}

absl::Status SharedVolume::WriteRecord(const std::string& node, const AdoptionRecord& r) const {
  return core::WriteFileAtomically(
      RecordPath(node), absl::StrCat("dir=", r.dir, "\ndata=", r.data_address,
                                     "\ncontrol=", r.control_address, "\nby=", r.adopted_by, "\n"));
}

}  // namespace shuffle::adoption
