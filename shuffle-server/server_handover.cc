#include "shuffle-server/server_handover.h"

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shuffle-server/handover/handover.h"
#include "shuffle-server/handover/kube_node.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::server {
namespace {

using core::Kv;

// Outputs not moved that are logged one by one; the rest are counted.
constexpr size_t kUnmovedLogged = 20;

// Why this stop should hand the outputs over; nullopt when it should not.
std::optional<std::string> Reason(const ServerOptions& options, const kube::Client* kube) {
  switch (options.handover_on_stop) {
    case HandOverOnStop::kNever:
      return std::nullopt;
    case HandOverOnStop::kAlways:
      return "--handover-on-stop=always";
    case HandOverOnStop::kCordoned:
      break;
  }
  if (kube == nullptr) {
    return std::nullopt;
  }
  absl::StatusOr<std::optional<std::string>> leaving =
      handover::AskNodeLeaving(*kube, options.node_name);
  if (!leaving.ok()) {
    SHUFFLE_LOG(WARNING) << "cannot tell whether the node is going away; stopping without a "
                            "hand-over (its map outputs fall back to re-runs if it does)"
                         << Kv("node", options.node_name)
                         << Kv("error", leaving.status().ToString());
    return std::nullopt;
  }
  if (!leaving->has_value()) {
    SHUFFLE_LOG(INFO) << "node stays (not cordoned): stopping without a hand-over"
                      << Kv("node", options.node_name);
    return std::nullopt;
  }
  return absl::StrCat("node ", options.node_name, " is going away: ", **leaving);
}

absl::StatusOr<std::vector<handover::PeerServer>> Peers(const ServerOptions& options,
                                                        const kube::Client* kube) {
  if (!options.handover_peers.empty()) {
    return options.handover_peers;
  }
  if (kube == nullptr) {
    return absl::FailedPreconditionError("no Kubernetes API to find the peers with");
  }
  SHUFFLE_ASSIGN_OR_RETURN(
      std::vector<handover::PeerServer> peers,
      handover::AskPeers(*kube, options.handover_peer_selector, options.node_name));
  if (peers.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no running shuffle server on another node matches --handover-peer-selector=",
                     options.handover_peer_selector));
  }
  return peers;
}

}  // namespace

bool HandOverOnStop(const StopHandOverContext& c) {
  const ServerOptions& options = *c.options;
  if (options.handover_on_stop == HandOverOnStop::kNever) {
    return false;
  }
  std::unique_ptr<kube::Client> kube;
  if (options.handover_on_stop == HandOverOnStop::kCordoned || options.handover_peers.empty()) {
    absl::StatusOr<std::unique_ptr<kube::Client>> opened =
        handover::OpenKubeClient(options.kubeconfig);
    if (!opened.ok()) {
      SHUFFLE_LOG(WARNING) << "no Kubernetes API access for the hand-over on stop"
                           << Kv("error", opened.status().ToString());
    } else {
      kube = *std::move(opened);
    }
  }
  const std::optional<std::string> reason = Reason(options, kube.get());
  if (!reason.has_value()) {
    return false;
  }
  const absl::Time deadline =
      absl::Now() + absl::Seconds(static_cast<int64_t>(options.handover_timeout_seconds));
  SHUFFLE_LOG(INFO) << "handing the node's map outputs over before stopping"
                    << Kv("reason", *reason) << Kv("timeout_s", options.handover_timeout_seconds);
  absl::StatusOr<std::vector<handover::PeerServer>> peers = Peers(options, kube.get());
  if (!peers.ok()) {
    SHUFFLE_LOG(ERROR) << "hand-over: no peers; the node's map outputs fall back to re-runs"
                       << Kv("error", peers.status().ToString());
    return false;
  }
  c.moves->Start();
  absl::StatusOr<handover::HandOverReport> report =
      handover::HandOver(c.engine, handover::HandOverOptions{.peers = *peers,
                                                             .deadline = deadline,
                                                             .tokens = c.tokens,
                                                             .operator_secret = c.operator_secret,
                                                             .progress = c.progress,
                                                             .peer_tls = PeerTls(*c.options)});
  if (!report.ok()) {
    c.moves->Abort();
    SHUFFLE_LOG(ERROR) << "hand-over failed; the node's map outputs fall back to re-runs"
                       << Kv("error", report.status().ToString());
    return false;
  }
  c.moves->Record(*report);
  for (size_t i = 0; i < report->unmoved.size() && i < kUnmovedLogged; ++i) {
    const handover::UnmovedOutput& u = report->unmoved[i];
    SHUFFLE_LOG(WARNING) << "hand-over: map output not moved (falls back to a re-run)"
                         << Kv("app", u.app_id) << Kv("shuffle", u.shuffle.value())
                         << Kv("map", u.map.value()) << Kv("error", u.error.ToString());
  }
  if (report->unmoved.size() > kUnmovedLogged) {
    SHUFFLE_LOG(WARNING) << "hand-over: more map outputs not moved (see GetMovedOutputs)"
                         << Kv("not_logged", report->unmoved.size() - kUnmovedLogged);
  }
  if (options.handover_linger_seconds > 0) {
    SHUFFLE_LOG(INFO) << "serving reads and the moves while drivers re-point their readers"
                      << Kv("linger_s", options.handover_linger_seconds);
    absl::SleepFor(absl::Seconds(static_cast<int64_t>(options.handover_linger_seconds)));
  }
  return true;
}

}  // namespace shuffle::server
