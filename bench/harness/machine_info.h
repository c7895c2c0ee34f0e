// What the run measured on: cores, CPU model, memory, kernel, and the file system and device
// under the data directory. A plain value; CollectMachineInfo() reads /proc and uname.
#ifndef SHUFFLE_BENCH_HARNESS_MACHINE_INFO_H_
#define SHUFFLE_BENCH_HARNESS_MACHINE_INFO_H_

#include <cstdint>
#include <string>

namespace shuffle::bench {

struct MachineInfo {
  unsigned cores = 0;
  std::string cpu_model;
  uint64_t memory_bytes = 0;
  std::string kernel;       // uname -r
  std::string data_dir;     // the run's temporary directory
  std::string file_system;  // e.g. "ext4"
  std::string device;       // e.g. "/dev/vda"
  std::string mount_point;
  bool root = false;  // can drop the page cache
};

MachineInfo CollectMachineInfo(const std::string& data_dir);

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_MACHINE_INFO_H_
