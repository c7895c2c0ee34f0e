/// ControlClient: the calls a driver makes to one shuffle server's control plane (gRPC):
/// register the application (receiving its token) and its shuffles, seal a shuffle whose map
/// stage is done, remove shuffles and the application, and probe the server's health. Every call
/// has a deadline and waits for a server that is restarting, up to it; errors name the server.
///
/// Thread-safe: one client may be shared; each call opens its own context.
#ifndef SHUFFLE_CLIENT_CONTROL_CLIENT_H_
#define SHUFFLE_CLIENT_CONTROL_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/options.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

class ControlClient {
 public:
  /// Each call's deadline unless the constructor is given another.
  static constexpr std::chrono::milliseconds kDefaultCallTimeout = std::chrono::seconds(20);

  /// `address`: the server's control plane, "host:port". Connecting is lazy: a server that is
  /// down fails the first call, not this.
  explicit ControlClient(std::string address,
                         std::chrono::milliseconds call_timeout = kDefaultCallTimeout);
  /// The same, through TLS when `tls_options.tls_ca_file` is set (its tls_* fields are used, the
  /// rest ignored): a TLS file that cannot be loaded fails every call, naming it.
  ControlClient(std::string address, std::chrono::milliseconds call_timeout,
                const ClientOptions& tls_options);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  /// Registers the application in `namespace_name` and returns its token (empty on a server
  /// without secrets). `identity_token` proves the driver: the operator secret locally, its
  /// service-account token on Kubernetes. Idempotent for the same app id and namespace.
  absl::StatusOr<std::string> RegisterApplication(const std::string& app_id,
                                                  const std::string& namespace_name,
                                                  const std::string& identity_token) const;
  absl::Status RegisterShuffle(const std::string& app_id, const std::string& token,
                               core::ShuffleId shuffle, uint32_t num_maps,
                               uint32_t num_partitions) const;
  absl::Status SealShuffle(const std::string& app_id, const std::string& token,
                           core::ShuffleId shuffle) const;
  /// Returns the bytes freed.
  absl::StatusOr<uint64_t> RemoveShuffle(const std::string& app_id, const std::string& token,
                                         core::ShuffleId shuffle) const;
  absl::StatusOr<uint64_t> RemoveApplication(const std::string& app_id,
                                             const std::string& token) const;

  /// The new places of the application's map outputs this server handed over to peers before
  /// going away (docs/node-loss.md): a driver re-points its readers there. `done` is false while
  /// the hand-over still copies (ask again); `moved` is empty when none ran.
  struct MovedOutputs {
    bool running = false;
    bool done = false;
    std::vector<MapStatus> moved;
  };
  absl::StatusOr<MovedOutputs> GetMovedOutputs(const std::string& app_id,
                                               const std::string& token) const;

  /// Asks this server to adopt `node`'s data directory from the shared volume both mount, the
  /// node's own server being gone (docs/node-loss.md "Adoption"): the answer says where that
  /// node's outputs are read now. Idempotent; FAILED_PRECONDITION when this server has no shared
  /// volume or the node's server still holds its directory, NOT_FOUND when there is nothing to
  /// adopt. Recovery can take a while: give a generous `timeout`.
  struct Adoption {
    std::string node;             // the adopted node (the outputs keep its name)
    std::string data_address;     // its outputs' data plane now
    std::string control_address;  // its control plane now
    std::string adopted_by;       // the node whose server serves it
    bool already_adopted = false;
    uint64_t commits_recovered = 0;
  };
  absl::StatusOr<Adoption> Adopt(const std::string& app_id, const std::string& token,
                                 const std::string& node, std::chrono::milliseconds timeout) const;

  /// Whether the server answers: OK when its gRPC health check answers within `timeout`,
  /// serving or not (a draining server answers NOT_SERVING); DEADLINE_EXCEEDED when nothing
  /// answers (a partition, a hung host); UNAVAILABLE when the connection is refused (the host
  /// answers, the process is down or restarting).
  absl::Status Probe(std::chrono::milliseconds timeout) const;

  const std::string& address() const { return address_; }

  struct Stubs;

 private:
  const std::string address_;
  const std::chrono::milliseconds call_timeout_;
  std::unique_ptr<Stubs> stubs_;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_CONTROL_CLIENT_H_
