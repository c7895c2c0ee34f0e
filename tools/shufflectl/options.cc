#include "tools/shufflectl/options.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::shufflectl {
namespace {

using core::ToAbsl;

struct CommandInfo {
  Command command;
  core::CommandSpec spec;
};

const std::vector<CommandInfo>& Commands() {
  static const auto* const commands = new std::vector<CommandInfo>{
      {Command::kStatus,
       {"status", "", 0, "the node: data directories, namespaces, totals",
        "Shows the node's data directories (bytes and files the server holds there, free space),\n"
        "its namespaces (bytes on disk, bytes charged to the quota, the quota) and totals, and\n"
        "whether it is draining."}},
      {Command::kApps,
       {"apps", "", 0, "list applications",
        "Lists every application the server holds data of or has registered: namespace,\n"
        "shuffles, bytes and files on disk."}},
      {Command::kShuffles,
       {"shuffles", "APP_ID", 1, "list an application's shuffles",
        "Lists the shuffles of application APP_ID: partitions, maps committed, bytes and files\n"
        "on disk, and whether the map stage is over (sealed)."}},
      {Command::kRemoveApp,
       {"remove-app", "APP_ID", 1, "remove an application and its data",
        "Removes application APP_ID and every shuffle it owns, freeing their disk space.\n"
        "Running tasks of that application will fail. Exits 1 if the server has nothing of it."}},
      {Command::kScrub,
       {"scrub", "APP_ID SHUFFLE_ID", 2, "verify the checksums of a shuffle's data",
        "Reads every committed block of the shuffle back from disk and verifies its checksum.\n"
        "Exits 0 when every block is intact, 1 when blocks are corrupt (each is listed: map,\n"
        "attempt, partition, sequence number, file and offset) or missing.\n"
        "Default --timeout-seconds: 3600."}},
      {Command::kDrain,
       {"drain", "", 0, "stop accepting writes, finish commits, sync",
        "Drains the server: it stops accepting pushes, commits and new shuffles (clients get\n"
        "UNAVAILABLE \"server draining\"), waits for the commits in flight and syncs; reads keep\n"
        "working. The server stays draining until it restarts (SIGTERM drains the same way).\n"
        "--timeout-seconds N: how long the server waits for commits in flight (default: its\n"
        "--drain-timeout-seconds). Exits 1 if commits were still running at the deadline."}},
      {Command::kDecommission,
       {"decommission", "", 0, "hand the node's map outputs over to peers before it goes away",
        "Decommissions the server (docs/node-loss.md): it drains (as drain), then copies every\n"
        "committed map output it holds to the peer servers given with --peer, the peer with the\n"
        "most free space first, each map as the same attempt, and prints where each output went\n"
        "and what could not be moved (those maps fall back to re-runs). Drivers learn the new\n"
        "places from the server (GetMovedOutputs) while it still runs.\n"
        "--peer HOST or DATA_HOST:PORT/CONTROL_HOST:PORT (a bare HOST means ports 7340 and\n"
        "7338), repeated or comma-separated: at least one.\n"
        "--timeout-seconds N: how long the whole hand-over may take (default: the server's\n"
        "--drain-timeout-seconds); keep it below the pod's termination grace period.\n"
        "Exits 0 when every output moved, 1 when some stayed behind or the call failed."}},
      {Command::kAdopt,
       {"adopt", "NODE", 1, "serve a lost node's data from the shared volume",
        "Asks this server (it needs --adopt-root: a shared volume with every node's data\n"
        "directory) to adopt lost node NODE's directory: it recovers it as after a crash and\n"
        "serves it under NODE's name at new ports, and prints them (docs/node-loss.md). A node\n"
        "adopted before, by this server or another, answers with where it is served. Refused\n"
        "while NODE's own server still holds its directory. Drivers re-point their readers\n"
        "(the reference driver asks on its own when it loses a server).\n"
        "Default --timeout-seconds: 300 (the recovery of a large directory)."}},
      {Command::kHealth,
       {"health", "", 0, "gRPC health check of the control plane",
        "Calls the standard gRPC health service (grpc.health.v1.Health/Check) of the server.\n"
        "Prints SERVING and exits 0 when the server serves; exits 1 when it does not (draining,\n"
        "stopping) or cannot be reached. Needs no secret: the DaemonSet's readiness and liveness\n"
        "probes run it."}},
  };
  return *commands;
}

const core::CommandTable& Table() {
  static const auto* const table = [] {
    std::vector<core::CommandSpec> specs;
    for (const CommandInfo& info : Commands()) {
      specs.push_back(info.spec);
    }
    return new core::CommandTable("shufflectl", std::move(specs));
  }();
  return *table;
}

const CommandInfo& InfoOf(std::string_view name) {
  for (const CommandInfo& info : Commands()) {
    if (info.spec.name == name) {
      return info;
    }
  }
  return Commands()[0];
}

const core::CommandSpec& SpecOf(Command command) {
  for (const CommandInfo& info : Commands()) {
    if (info.command == command) {
      return info.spec;
    }
  }
  return Commands()[0].spec;
}

// The global flags (anywhere on the line).
core::FlagTable CtlFlags(CtlOptions* o) {
  core::FlagTable flags;
  flags
      .Add("server", "HOST:PORT", "the server's control plane (default 127.0.0.1:7338)",
           [o](std::string_view v) {
             if (v.empty()) {
               return absl::InvalidArgumentError("--server is empty: expected HOST:PORT");
             }
             o->server = std::string(v);  // any gRPC target, HOST:PORT usually
             return absl::OkStatus();
           })
      .String("secret-file", "PATH",
              "the operator secret (the server's --registration-secret-file); needed when the "
              "server runs with secrets",
              &o->secret_file)
      .String("tls-ca-file", "PATH",
              "the PEM CA bundle of the server's certificate: talk TLS to a server started with "
              "--tls-cert-file",
              &o->tls.ca_file)
      .String("tls-cert-file", "PATH",
              "with --tls-key-file: a client certificate, for a server with --tls-client-ca-file",
              &o->tls.cert_file)
      .String("tls-key-file", "PATH", "the private key of --tls-cert-file", &o->tls.key_file)
      .String("tls-server-name", "NAME",
              "the name the server's certificate must carry (default: the host of --server)",
              &o->tls.server_name)
      .Switch("json", "print JSON instead of tables", [o] { o->json = true; })
      .Add("peer", "PEER",
           "decommission: a peer server, HOST (ports 7340/7338) or "
           "DATA_HOST:PORT/CONTROL_HOST:PORT; repeat or comma-separate",
           [o](std::string_view v) {
             absl::StatusOr<std::vector<handover::PeerServer>> peers = handover::ParsePeerList(v);
             if (!peers.ok()) {
               return core::Annotate(peers.status(), "--peer");
             }
             o->peers.insert(o->peers.end(), peers->begin(), peers->end());
             return absl::OkStatus();
           })
      .Add("timeout-seconds", "N", "how long to wait for the server (default 30; scrub 3600)",
           [o](std::string_view v) {
             uint64_t seconds = 0;
             SHUFFLE_RETURN_IF_ERROR(
                 core::ParseWholeNumber("timeout-seconds", v, 1, 86400, &seconds));
             o->timeout_seconds = seconds;
             return absl::OkStatus();
           });
  return flags;
}

absl::Status SetArguments(Command command, const std::vector<std::string>& args, CtlOptions* o) {
  if (command == Command::kAdopt) {
    if (args[0].empty()) {
      return absl::InvalidArgumentError("NODE is empty");
    }
    o->node = args[0];
  } else if (!args.empty()) {
    if (args[0].empty()) {
      return absl::InvalidArgumentError("APP_ID is empty");
    }
    o->app_id = args[0];
  }
  if (command == Command::kDecommission && o->peers.empty()) {
    return absl::InvalidArgumentError(
        "decommission needs --peer: name the shuffle servers that may take this node's data");
  }
  if (command != Command::kDecommission && !o->peers.empty()) {
    return absl::InvalidArgumentError("--peer is for decommission only");
  }
  if (command == Command::kScrub && !absl::SimpleAtoi(args[1], &o->shuffle_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SHUFFLE_ID '", args[1], "': expected a whole number from 0 to 4294967295"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view CommandName(Command command) { return SpecOf(command).name; }

absl::StatusOr<CtlOptions> ParseCtlOptions(const std::vector<std::string>& args) {
  CtlOptions o;
  const core::FlagTable flags = CtlFlags(&o);
  SHUFFLE_ASSIGN_OR_RETURN(const core::CommandLine line, flags.Parse(args));
  SHUFFLE_ASSIGN_OR_RETURN(const core::CommandChoice choice, Table().Choose(line));
  o.help = choice.help;
  if (choice.command == nullptr) {
    return o;
  }
  const Command command = InfoOf(choice.command->name).command;
  if (o.help) {
    o.help_command = command;
    return o;
  }
  o.command = command;
  SHUFFLE_RETURN_IF_ERROR(SetArguments(command, choice.arguments, &o));
  if (!o.tls.enabled() && (!o.tls.cert_file.empty() || !o.tls.server_name.empty())) {
    return absl::InvalidArgumentError(
        "--tls-cert-file and --tls-server-name need --tls-ca-file: the CA of the server's "
        "certificate");
  }
  SHUFFLE_RETURN_IF_ERROR(tls::Validate(o.tls));
  return o;
}

uint64_t RpcTimeoutSeconds(const CtlOptions& o) {
  if (o.command == Command::kDrain || o.command == Command::kDecommission) {
    return o.timeout_seconds.has_value() ? *o.timeout_seconds + 30 : 3600;
  }
  if (o.timeout_seconds.has_value()) {
    return *o.timeout_seconds;
  }
  if (o.command == Command::kScrub) {
    return kDefaultScrubTimeoutSeconds;
  }
  return o.command == Command::kAdopt ? kDefaultAdoptTimeoutSeconds : kDefaultTimeoutSeconds;
}

uint32_t DrainTimeoutSeconds(const CtlOptions& o) {
  return static_cast<uint32_t>(o.timeout_seconds.value_or(0));
}

std::string Usage(std::optional<Command> command) {
  CtlOptions unused;
  const std::string flags = absl::StrCat(
      "Global flags (anywhere on the line; 'shufflectl COMMAND --help' for a "
      "command's page):\n",
      CtlFlags(&unused).Help());
  static constexpr std::string_view kExitCodes =
      "Exit codes: 0 done; 1 the operation failed (or scrub found damage); 2 usage error.\n";
  if (command.has_value()) {
    const core::CommandSpec& spec = SpecOf(*command);
    return absl::StrCat("Usage: shufflectl [flags] ", spec.name, spec.arguments.empty() ? "" : " ",
                        spec.arguments, "\n\n", spec.details, "\n\n", flags, "\n",
                        ToAbsl(kExitCodes));
  }
  return absl::StrCat(
      "Usage: shufflectl [flags] COMMAND [ARGS]\n\n"
      "Administers a node-local shuffle server over its gRPC control plane.\n\nCommands:\n",
      Table().Overview(), "\n", flags, "\n", ToAbsl(kExitCodes));
}

}  // namespace shuffle::shufflectl
