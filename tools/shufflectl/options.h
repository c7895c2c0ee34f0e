// shufflectl's command line: global flags (anywhere on the line), one subcommand and its
// arguments: a core::FlagTable and a core::CommandTable, so --flag=value or --flag value,
// --help (globally or per subcommand) exits 0 with its page, and every error names the flag or
// argument and says what is expected (exit 2). Plain values and pure functions; thread-safe.
#ifndef SHUFFLE_TOOLS_SHUFFLECTL_OPTIONS_H_
#define SHUFFLE_TOOLS_SHUFFLECTL_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/handover/peer_spec.h"

namespace shuffle::shufflectl {

enum class Command {
  kStatus,
  kApps,
  kShuffles,
  kRemoveApp,
  kScrub,
  kDrain,
  kDecommission,
  kAdopt,
  kHealth
};

// "status", "apps", ...
std::string_view CommandName(Command command);

inline constexpr std::string_view kDefaultServer = "127.0.0.1:7338";
inline constexpr uint64_t kDefaultTimeoutSeconds = 30;
inline constexpr uint64_t kDefaultScrubTimeoutSeconds = 3600;
inline constexpr uint64_t kDefaultAdoptTimeoutSeconds = 300;

struct CtlOptions {
  std::string server = std::string(kDefaultServer);  // the control plane, HOST:PORT
  std::string secret_file;                           // the operator secret
  tls::ClientFiles tls;  // --tls-ca-file and friends: the control plane through TLS
  bool json = false;
  // --timeout-seconds; nullopt: the command's default (see RpcTimeoutSeconds).
  std::optional<uint64_t> timeout_seconds;

  bool help = false;  // print Usage(help_command) and exit 0
  std::optional<Command> help_command;

  std::optional<Command> command;           // set unless help
  std::string app_id;                       // shuffles, remove-app, scrub
  uint32_t shuffle_id = 0;                  // scrub
  std::vector<handover::PeerServer> peers;  // decommission: --peer
  std::string node;                         // adopt
};

// Parses the arguments after the program name. INVALID_ARGUMENT, naming what is wrong, for an
// unknown flag or subcommand, a missing or extra argument, or a malformed value.
absl::StatusOr<CtlOptions> ParseCtlOptions(const std::vector<std::string>& args);

// The deadline for the command's RPC: --timeout-seconds, else 30 s (scrub: 3600 s, adopt: 300 s). A
// drain's or decommission's RPC waits its timeout plus a margin; without --timeout-seconds, the
// server's own --drain-timeout-seconds applies and the RPC waits up to an hour.
uint64_t RpcTimeoutSeconds(const CtlOptions& options);
// What DrainRequest.timeout_seconds (and DecommissionRequest's) carries: --timeout-seconds, or 0
// for the server's default.
uint32_t DrainTimeoutSeconds(const CtlOptions& options);

// The help page: the overview, or one subcommand's.
std::string Usage(std::optional<Command> command = std::nullopt);

}  // namespace shuffle::shufflectl

#endif  // SHUFFLE_TOOLS_SHUFFLECTL_OPTIONS_H_
