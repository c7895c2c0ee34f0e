#include "bench/harness/machine_info.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/sysinfo.h>
#include <sys/utsname.h>

namespace shuffle::bench {
namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  for (int i = 0; i < 4096 && std::getline(in, line); ++i) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

// The mount holding `path`: the longest mount point that prefixes it (/proc/self/mountinfo:
// "id parent major:minor root mount-point options ... - fstype source super-options").
void FindMount(const std::string& path, MachineInfo* info) {
  std::error_code ec;
  const std::string target = std::filesystem::weakly_canonical(path, ec).string();
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  size_t best = 0;
  for (int i = 0; i < 100000 && std::getline(in, line); ++i) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    const bool prefix = target.rfind(mount_point, 0) == 0 &&
                        (mount_point == "/" || target.size() == mount_point.size() ||
                         target[mount_point.size()] == '/');
    if (!prefix || mount_point.size() < best) {
      continue;
    }
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream tail(line.substr(dash + 3));
    best = mount_point.size();
    info->mount_point = mount_point;
    tail >> info->file_system >> info->device;
  }
}

}  // namespace

MachineInfo CollectMachineInfo(const std::string& data_dir) {
  MachineInfo info;
  info.cores = std::thread::hardware_concurrency();
  info.cpu_model = CpuModel();
  struct sysinfo si {};
  if (sysinfo(&si) == 0) {
    info.memory_bytes = static_cast<uint64_t>(si.totalram) * si.mem_unit;
  }
  utsname name{};
  if (uname(&name) == 0) {
    info.kernel = name.release;
  }
  info.data_dir = data_dir;
  FindMount(data_dir, &info);
  info.root = geteuid() == 0;
  return info;
}

}  // namespace shuffle::bench
