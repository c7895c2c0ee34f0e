#include "driver/podmanager/disk_throttle.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <vector>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::podmanager {
namespace {

namespace fs = std::filesystem;

constexpr char kBlkioRoot[] = "/sys/fs/cgroup/blkio";

absl::Status WriteControl(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value << '\n';
  out.close();
  if (!out) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write \"", value, "\" to ", path, ": ", strerror(errno),
                     " (a slow disk needs root and the cgroup v1 blkio controller)"));
  }
  return absl::OkStatus();
}

std::string ReadTrimmed(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return std::string(absl::StripAsciiWhitespace(text));
}

// "MAJOR:MINOR" of the whole disk that holds `dir`.
absl::StatusOr<std::string> DiskOf(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", dir, ": ", strerror(errno)));
  }
  const std::string device = absl::StrCat(major(st.st_dev), ":", minor(st.st_dev));
  std::error_code ec;
  const fs::path sys = fs::canonical(fs::path("/sys/dev/block") / device, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " is on device ", device,
                     ", which is no block device (tmpfs, overlay?); a slow disk needs one"));
  }
  // A partition's throttle belongs to its disk: the parent directory in sysfs.
  return fs::exists(sys / "partition") ? ReadTrimmed(sys.parent_path() / "dev") : device;
}

// Removes the (empty) groups of runs whose process is gone.
void RemoveStale() {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(kBlkioRoot, ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (name.rfind("shuffle-", 0) == 0 &&
        absl::SimpleAtoi(name.substr(8, name.find('-', 8) - 8), &pid) && kill(pid, 0) != 0 &&
        errno == ESRCH) {
      rmdir(entry.path().c_str());
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskThrottle>> DiskThrottle::Create(const std::string& name,
                                                                   const std::string& dir,
                                                                   uint64_t bytes_per_second) {
  if (!fs::exists(fs::path(kBlkioRoot) / "blkio.throttle.write_bps_device")) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cgroup v1 blkio hierarchy at ", kBlkioRoot,
                     "; a slow disk needs it (cgroup v2's io.max is not supported yet)"));
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::string device, DiskOf(dir));
  RemoveStale();
  const std::string group =
      (fs::path(kBlkioRoot) / absl::StrCat("shuffle-", getpid(), "-", name)).string();
  std::error_code ec;
  fs::create_directory(group, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create the control group ", group,
                                                      ": ", ec.message(), " (needs root)"));
  }
  std::unique_ptr<DiskThrottle> throttle(new DiskThrottle(group, device));
  const std::string rule = absl::StrCat(device, " ", bytes_per_second);
  SHUFFLE_RETURN_IF_ERROR(WriteControl(group + "/blkio.throttle.read_bps_device", rule));
  SHUFFLE_RETURN_IF_ERROR(WriteControl(group + "/blkio.throttle.write_bps_device", rule));
  SHUFFLE_LOG(WARNING) << "disk throttled" << core::Kv("dir", dir) << core::Kv("device", device)
                       << core::Kv("bytes_per_second", bytes_per_second);
  return throttle;
}

absl::Status DiskThrottle::Add(pid_t pid) {
  return WriteControl(group_ + "/cgroup.procs", std::to_string(pid));
}

absl::StatusOr<uint64_t> DiskThrottle::BytesThrough() const {
  // Lines "MAJOR:MINOR Read|Write|Sync|Async|Discard|Total BYTES", then "Total BYTES".
  const std::string path = group_ + "/blkio.throttle.io_service_bytes";
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t bytes = 0;
    if (words.size() == 3 && words[0] == device_ && words[1] == "Total" &&
        absl::SimpleAtoi(words[2], &bytes)) {
      return bytes;
    }
  }
  return uint64_t{0};  // no I/O on the device yet
}

DiskThrottle::~DiskThrottle() {
  std::ifstream procs(group_ + "/cgroup.procs");
  std::string pid;
  while (std::getline(procs, pid)) {
    WriteControl(absl::StrCat(kBlkioRoot, "/cgroup.procs"), pid).IgnoreError();
  }
  if (rmdir(group_.c_str()) != 0) {
    SHUFFLE_LOG(WARNING) << "cannot remove a control group" << core::Kv("group", group_)
                         << core::Kv("error", strerror(errno));
  }
}

}  // namespace shuffle::podmanager
