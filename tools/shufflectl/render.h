// What each shufflectl command prints, from the server's responses: aligned tables with units
// for people, or JSON (--json) for programs. Pure functions; thread-safe.
#ifndef SHUFFLE_TOOLS_SHUFFLECTL_RENDER_H_
#define SHUFFLE_TOOLS_SHUFFLECTL_RENDER_H_

#include <cstdint>
#include <string>

#include "grpc/health/v1/health.pb.h"
#include "shuffle/proto/control.pb.h"

namespace shuffle::shufflectl {

// Standard output of a command, and the exit code it implies (0, or 1 when a scrub found
// corrupt or missing blocks).
struct Output {
  std::string text;
  int exit_code = 0;
};

Output RenderStatus(const proto::GetStatusResponse& status, bool json);
Output RenderApps(const proto::GetStatusResponse& status, bool json);
// `status` holds the one application asked for.
Output RenderShuffles(const proto::GetStatusResponse& status, const std::string& app_id, bool json);
Output RenderRemoved(const std::string& app_id, const proto::RemoveApplicationResponse& removed,
                     bool json);
Output RenderScrub(const std::string& app_id, uint32_t shuffle_id,
                   const proto::ScrubShuffleResponse& scrub, bool json);
Output RenderDrain(const std::string& server, const proto::DrainResponse& drain, bool json);
// Where each map output went and what stayed behind (exit 1 when some did).
Output RenderDecommission(const std::string& server, const proto::DecommissionResponse& response,
                          bool json);
// SERVING (exit 0) or the status the server reported (exit 1).
Output RenderAdopt(const std::string& server, const proto::AdoptResponse& adoption, bool json);
Output RenderHealth(const std::string& server, const grpc::health::v1::HealthCheckResponse& health,
                    bool json);

// The same, as JSON text (render_json.cc); the human renderers call them with --json.
std::string StatusJson(const proto::GetStatusResponse& status);
std::string AppsJson(const proto::GetStatusResponse& status);
std::string ShufflesJson(const proto::GetStatusResponse& status, const std::string& app_id);
std::string RemovedJson(const std::string& app_id, const proto::RemoveApplicationResponse& removed);
std::string ScrubJson(const std::string& app_id, uint32_t shuffle_id,
                      const proto::ScrubShuffleResponse& scrub);
std::string DrainJson(const std::string& server, const proto::DrainResponse& drain);
std::string AdoptJson(const std::string& server, const proto::AdoptResponse& adoption);
std::string DecommissionJson(const std::string& server,
                             const proto::DecommissionResponse& response);

// True when the scrub found every promised block and none corrupt.
bool ScrubClean(const proto::ScrubShuffleResponse& scrub);

}  // namespace shuffle::shufflectl

#endif  // SHUFFLE_TOOLS_SHUFFLECTL_RENDER_H_
