// shufflectl: the shuffle server's admin command line (status, apps, shuffles, remove-app,
// scrub, drain, decommission, adopt, health) over its gRPC control plane. Exit codes: 0 done, 1 the
// operation failed (or a scrub found damage), 2 usage error. See `shufflectl --help`.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tls/grpc_credentials.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/status_macros.h"
#include "tools/shufflectl/client.h"
#include "tools/shufflectl/options.h"
#include "tools/shufflectl/render.h"

namespace shuffle::shufflectl {
namespace {

absl::StatusOr<Output> Run(const CtlOptions& o, CtlClient& client) {
  switch (*o.command) {
    case Command::kStatus: {
      absl::StatusOr<proto::GetStatusResponse> status = client.GetStatus("");
      return status.ok() ? RenderStatus(*status, o.json) : absl::StatusOr<Output>(status.status());
    }
    case Command::kApps: {
      absl::StatusOr<proto::GetStatusResponse> status = client.GetStatus("");
      return status.ok() ? RenderApps(*status, o.json) : absl::StatusOr<Output>(status.status());
    }
    case Command::kShuffles: {
      absl::StatusOr<proto::GetStatusResponse> status = client.GetStatus(o.app_id);
      return status.ok() ? RenderShuffles(*status, o.app_id, o.json)
                         : absl::StatusOr<Output>(status.status());
    }
    case Command::kRemoveApp: {
      absl::StatusOr<proto::RemoveApplicationResponse> removed = client.RemoveApplication(o.app_id);
      return removed.ok() ? RenderRemoved(o.app_id, *removed, o.json)
                          : absl::StatusOr<Output>(removed.status());
    }
    case Command::kScrub: {
      absl::StatusOr<proto::ScrubShuffleResponse> scrub =
          client.ScrubShuffle(o.app_id, o.shuffle_id);
      return scrub.ok() ? RenderScrub(o.app_id, o.shuffle_id, *scrub, o.json)
                        : absl::StatusOr<Output>(scrub.status());
    }
    case Command::kDrain: {
      absl::StatusOr<proto::DrainResponse> drain = client.Drain(DrainTimeoutSeconds(o));
      return drain.ok() ? RenderDrain(o.server, *drain, o.json)
                        : absl::StatusOr<Output>(drain.status());
    }
    case Command::kDecommission: {
      absl::StatusOr<proto::DecommissionResponse> decommissioned =
          client.Decommission(o.peers, DrainTimeoutSeconds(o));
      return decommissioned.ok() ? RenderDecommission(o.server, *decommissioned, o.json)
                                 : absl::StatusOr<Output>(decommissioned.status());
    }
    case Command::kAdopt: {
      absl::StatusOr<proto::AdoptResponse> adopted = client.Adopt(o.node);
      return adopted.ok() ? RenderAdopt(o.server, *adopted, o.json)
                          : absl::StatusOr<Output>(adopted.status());
    }
    case Command::kHealth: {
      absl::StatusOr<grpc::health::v1::HealthCheckResponse> health = client.Health();
      return health.ok() ? RenderHealth(o.server, *health, o.json)
                         : absl::StatusOr<Output>(health.status());
    }
  }
  return absl::InternalError("unhandled command");
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  absl::StatusOr<CtlOptions> options = ParseCtlOptions(args);
  if (!options.ok()) {
    return core::ReportUsageError("shufflectl", options.status());
  }
  if (options->help) {
    std::fputs(Usage(options->help_command).c_str(), stdout);
    return 0;
  }
  std::string secret;
  if (!options->secret_file.empty()) {
    absl::StatusOr<std::string> read = security::ReadSecretFile(options->secret_file);
    if (!read.ok()) {
      return core::ReportUsageError("shufflectl", core::Annotate(read.status(), "--secret-file"));
    }
    secret = *std::move(read);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      tls::NewGrpcChannel(options->server, options->tls);
  if (!channel.ok()) {
    return core::ReportUsageError("shufflectl", channel.status());
  }
  CtlClient client(options->server, *std::move(channel), secret,
                   absl::Seconds(static_cast<int64_t>(RpcTimeoutSeconds(*options))));
  absl::StatusOr<Output> output = Run(*options, client);
  if (!output.ok()) {
    std::fprintf(stderr, "shufflectl: %s: %s\n",
                 std::string(CommandName(*options->command)).c_str(),
                 std::string(output.status().message()).c_str());
    return 1;
  }
  std::fwrite(output->text.data(), 1, output->text.size(), stdout);
  return output->exit_code;
}

}  // namespace
}  // namespace shuffle::shufflectl

int main(int argc, char** argv) { return shuffle::shufflectl::Main(argc, argv); }
