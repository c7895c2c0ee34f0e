/// ShuffleRegistry: the driver's record of where each map's committed output lives, built from
/// the MapStatuses its executors report. Reduce tasks may start once every map is registered;
/// when a shuffle server is lost for good, the registry forgets exactly the outputs it held, and
/// those maps (and only those) must run again.
///
/// Not thread-safe: the driver guards it with its own lock.
#ifndef SHUFFLE_CLIENT_SHUFFLE_REGISTRY_H_
#define SHUFFLE_CLIENT_SHUFFLE_REGISTRY_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/client/map_status.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

class ShuffleRegistry {
 public:
  ShuffleRegistry(core::ShuffleId shuffle, uint32_t num_maps, uint32_t num_partitions);

  /// Records the output of a map. A map already registered keeps its first status (the server
  /// serves only one attempt per map) and false is returned. INVALID_ARGUMENT for a status of
  /// another shuffle, an unknown map, or the wrong number of partitions.
  absl::StatusOr<bool> Register(const MapStatus& status);

  /// A map's output was handed over from the server on `from_node` to the one `status` names
  /// (a draining node, docs/node-loss.md): replaces the map's status when it is unregistered or
  /// held on `from_node`, and returns true; false when another server already holds the map's
  /// registered output. INVALID_ARGUMENT as for Register.
  absl::StatusOr<bool> Move(std::string_view from_node, const MapStatus& status);

  /// Forgets every output held by the server on `node` (or, for the address form, reached at
  /// `address`); returns the maps that lost their output.
  std::vector<core::MapId> RemoveOutputsOnNode(std::string_view node);
  std::vector<core::MapId> RemoveOutputsAt(std::string_view address);

  bool IsRegistered(core::MapId map) const { return statuses_[map.value()].has_value(); }
  /// The registered output of `map`, if any. REQUIRES: map < num_maps().
  const std::optional<MapStatus>& Get(core::MapId map) const { return statuses_[map.value()]; }
  bool Complete() const { return registered_ == statuses_.size(); }
  uint32_t registered() const { return registered_; }
  uint32_t num_maps() const { return static_cast<uint32_t>(statuses_.size()); }
  /// The statuses of every registered map, by map id.
  std::vector<MapStatus> Statuses() const;
  /// Encoded bytes of every registered output.
  uint64_t TotalBytes() const;

 private:
  template <typename Pred>
  std::vector<core::MapId> RemoveIf(Pred pred);

  core::ShuffleId shuffle_;
  uint32_t num_partitions_;
  std::vector<std::optional<MapStatus>> statuses_;
  uint32_t registered_ = 0;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_SHUFFLE_REGISTRY_H_
