/// MapStatus: what a committed map attempt produced and where it lives. The writer returns it on
/// commit; the executor hands it to the driver; readers of a partition take the statuses of all
/// maps and learn from them exactly how many blocks and bytes each server must deliver.
///
/// A plain value type; safe to copy and to share between threads.
#ifndef SHUFFLE_CLIENT_MAP_STATUS_H_
#define SHUFFLE_CLIENT_MAP_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

struct MapStatus {
  std::string node;     ///< node name of the server holding the output
  std::string address;  ///< that server's data-plane address ("host:port" or "unix:/path")
  std::string control_address{};  ///< that server's control plane ("host:port"), when it says
  core::ShuffleId shuffle{0};
  core::MapId map{0};
  core::AttemptId attempt{0};              ///< the attempt whose output is served (the winner)
  std::vector<uint64_t> partition_bytes;   ///< per partition, encoded block bytes
  std::vector<uint32_t> partition_blocks;  ///< per partition, number of blocks

  uint64_t total_bytes() const;
  uint64_t total_blocks() const;

  /// Wire form (the proto message shuffle.proto.MapStatus), for passing to the driver.
  std::string Serialize() const;
  static absl::StatusOr<MapStatus> Parse(std::string_view bytes);
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_MAP_STATUS_H_
