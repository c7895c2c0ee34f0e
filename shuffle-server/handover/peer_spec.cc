#include "shuffle-server/handover/peer_spec.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/strings.h"

namespace shuffle::handover {
namespace {

constexpr std::string_view kExpected =
    "expected HOST (data port 7340, control port 7338) or DATA_HOST:PORT/CONTROL_HOST:PORT";

absl::Status BadPeer(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "peer '", core::ToAbsl(text), "': ", core::ToAbsl(why), "; ", core::ToAbsl(kExpected)));
}

absl::StatusOr<core::Endpoint> TcpWithPort(std::string_view whole, std::string_view part) {
  absl::StatusOr<core::Endpoint> endpoint = core::Endpoint::Parse(part);
  if (!endpoint.ok()) {
    return BadPeer(whole, core::FromAbsl(endpoint.status().message()));
  }
  if (endpoint->is_unix() || endpoint->host().empty() || endpoint->port() == 0) {
    return BadPeer(whole,
                   absl::StrCat("'", core::ToAbsl(part), "' is not a HOST:PORT to connect to"));
  }
  return endpoint;
}

}  // namespace

absl::StatusOr<PeerServer> ParsePeer(std::string_view text) {
  text = core::FromAbsl(absl::StripAsciiWhitespace(core::ToAbsl(text)));
  if (text.empty()) {
    return BadPeer(text, "empty");
  }
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    absl::StatusOr<core::Endpoint> data = TcpWithPort(text, text.substr(0, slash));
    if (!data.ok()) {
      return data.status();
    }
    absl::StatusOr<core::Endpoint> control = TcpWithPort(text, text.substr(slash + 1));
    if (!control.ok()) {
      return control.status();
    }
    return PeerServer{.data_address = data->ToString(), .control_address = control->ToString()};
  }
  if (core::Endpoint::Parse(text).ok()) {
    return BadPeer(text, "a lone HOST:PORT does not say which plane it is");
  }
  absl::StatusOr<core::Endpoint> host =
      core::Endpoint::ParseWithDefaultPort(text, kDefaultPeerDataPort);
  if (!host.ok() || host->is_unix() || host->host().empty()) {
    return BadPeer(text, "not a host name or address");
  }
  return PeerServer{.data_address = host->ToString(),
                    .control_address = host->WithPort(kDefaultPeerControlPort).ToString()};
}

absl::StatusOr<std::vector<PeerServer>> ParsePeerList(std::string_view text) {
  std::vector<PeerServer> peers;
  for (absl::string_view item : absl::StrSplit(core::ToAbsl(text), ',', absl::SkipWhitespace())) {
    absl::StatusOr<PeerServer> peer = ParsePeer(core::FromAbsl(item));
    if (!peer.ok()) {
      return peer.status();
    }
    peers.push_back(*std::move(peer));
  }
  return peers;
}

}  // namespace shuffle::handover
