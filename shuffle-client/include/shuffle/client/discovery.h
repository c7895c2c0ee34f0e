/// Finding the node-local shuffle server from an executor's environment.
///
/// In order: SHUFFLE_SERVER_SOCKET (a Unix socket on the hostPath shared with the server's
/// DaemonSet pod) -> "unix:<path>"; SHUFFLE_SERVER_ADDRESS ("host:port"); SHUFFLE_NODE_IP (the
/// downward API's status.hostIP) with SHUFFLE_SERVER_PORT (default 7340). Thread-safe.
#ifndef SHUFFLE_CLIENT_DISCOVERY_H_
#define SHUFFLE_CLIENT_DISCOVERY_H_

#include <string>

#include "absl/status/statusor.h"

namespace shuffle::client {

inline constexpr int kDefaultServerPort = 7340;

/// The node-local server's address, or NOT_FOUND naming the variables to set.
absl::StatusOr<std::string> DiscoverLocalServer();

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_DISCOVERY_H_
