#include "shuffle/client/discovery.h"

#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/endpoint.h"

namespace shuffle::client {

absl::StatusOr<std::string> DiscoverLocalServer() {
  const char* socket = std::getenv("SHUFFLE_SERVER_SOCKET");
  if (socket != nullptr && *socket != '\0') {
    return core::Endpoint::Unix(socket).ToString();
  }
  const char* address = std::getenv("SHUFFLE_SERVER_ADDRESS");
  if (address != nullptr && *address != '\0') {
    return std::string(address);
  }
  const char* node_ip = std::getenv("SHUFFLE_NODE_IP");
  if (node_ip != nullptr && *node_ip != '\0') {
    const char* port = std::getenv("SHUFFLE_SERVER_PORT");
    return absl::StrCat(
        core::BracketHost(node_ip), ":",
        port != nullptr && *port != '\0' ? port : std::to_string(kDefaultServerPort));
  }
  return absl::NotFoundError(
      "no node-local shuffle server configured: set SHUFFLE_SERVER_SOCKET (Unix socket on the "
      "shared hostPath), SHUFFLE_SERVER_ADDRESS (host:port), or SHUFFLE_NODE_IP (the downward "
      "API's status.hostIP) with SHUFFLE_SERVER_PORT");
}

}  // namespace shuffle::client
