// ShuffleTier: the driver's calls to the control plane of every node's shuffle server: register
// the application (with the operator secret or a service-account token, receiving the
// application token) and its shuffle,
// seal the shuffle when the map stage is done, and remove the application when the job ends.
// Every call has a deadline; errors name the server. The calls are the client library's
// ControlClient (shuffle/client/control_client.h), which the Spark plugin's driver uses too.
//
// Thread-safe.
#ifndef SHUFFLE_DRIVER_RUNNER_SHUFFLE_TIER_H_
#define SHUFFLE_DRIVER_RUNNER_SHUFFLE_TIER_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "shuffle/client/control_client.h"
#include "shuffle/core/ids.h"

namespace shuffle::runner {

class ShuffleTier {
 public:
  // `operator_secret` proves the driver when it registers the application; when
  // `identity_token_file` is set, that file is read at every registration instead (a pod's
  // service-account token, which the kubelet rotates; servers with --token-review check it).
  // `tls_ca_file`: the servers' control planes are reached through TLS, checked with it, by
  // `tls_server_name` when set (else the host dialled).
  ShuffleTier(std::string app_id, std::string app_namespace, std::string operator_secret,
              std::string identity_token_file = "", std::string tls_ca_file = "",
              std::string tls_server_name = "")
      : app_id_(std::move(app_id)),
        namespace_(std::move(app_namespace)),
        operator_secret_(std::move(operator_secret)),
        identity_token_file_(std::move(identity_token_file)) {
    tls_.tls_ca_file = std::move(tls_ca_file);
    tls_.tls_server_name = std::move(tls_server_name);
  }

  // Registers the application and the shuffle on the server; returns the application token.
  absl::StatusOr<std::string> Prepare(const std::string& control_address, core::ShuffleId shuffle,
                                      uint32_t num_maps, uint32_t num_partitions) const;
  absl::Status Seal(const std::string& control_address, const std::string& token,
                    core::ShuffleId shuffle) const;
  // Removes the application and its data; returns the bytes freed.
  absl::StatusOr<uint64_t> RemoveApplication(const std::string& control_address,
                                             const std::string& token) const;

  // Whether the driver reaches the server: OK when its gRPC health check answers within
  // `timeout`, serving or not (a draining server answers NOT_SERVING); DEADLINE_EXCEEDED when
  // nothing answers (a partition, a hung host); UNAVAILABLE when the connection is refused (the
  // host answers, the process is down or restarting). Errors name the server.
  absl::Status Probe(const std::string& control_address, std::chrono::milliseconds timeout) const;

  // The application's outputs the server handed over (GetMovedOutputs), waiting at most `timeout`.
  absl::StatusOr<client::ControlClient::MovedOutputs> MovedOutputs(
      const std::string& control_address, const std::string& token,
      std::chrono::milliseconds timeout) const;

  // Asks the server at `control_address` to adopt lost node `node`'s data from the shared volume
  // (Adopt), waiting at most `timeout` for its recovery.
  absl::StatusOr<client::ControlClient::Adoption> Adopt(const std::string& control_address,
                                                        const std::string& token,
                                                        const std::string& node,
                                                        std::chrono::milliseconds timeout) const;

  const std::string& app_id() const { return app_id_; }

 private:
  const std::string app_id_;
  const std::string namespace_;
  const std::string operator_secret_;
  const std::string identity_token_file_;
  client::ClientOptions tls_;  // only its tls_* fields are used
};

}  // namespace shuffle::runner

#endif  // SHUFFLE_DRIVER_RUNNER_SHUFFLE_TIER_H_
