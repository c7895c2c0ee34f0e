#include "tools/shufflectl/options.h"

#include <array>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::shufflectl {
namespace {

using core::ToAbsl;

struct CommandSpec {
  Command command;
  std::string_view name;
  std::string_view arguments;  // for the usage line
  size_t arity;
  std::string_view summary;
  std::string_view details;
};

constexpr std::array<CommandSpec, 7> kCommands = {{
    {Command::kStatus, "status", "", 0, "the node: data directories, namespaces, totals",
     "Shows the node's data directories (bytes and files the server holds there, free space),\n"
     "its namespaces (bytes on disk, bytes charged to the quota, the quota) and totals, and\n"
     "whether it is draining."},
    {Command::kApps, "apps", "", 0, "list applications",
     "Lists every application the server holds data of or has registered: namespace,\n"
     "shuffles, bytes and files on disk."},
    {Command::kShuffles, "shuffles", "APP_ID", 1, "list an application's shuffles",
     "Lists the shuffles of application APP_ID: partitions, maps committed, bytes and files\n"
     "on disk, and whether the map stage is over (sealed)."},
    {Command::kRemoveApp, "remove-app", "APP_ID", 1, "remove an application and its data",
     "Removes application APP_ID and every shuffle it owns, freeing their disk space.\n"
     "Running tasks of that application will fail. Exits 1 if the server has nothing of it."},
    {Command::kScrub, "scrub", "APP_ID SHUFFLE_ID", 2, "verify the checksums of a shuffle's data",
     "Reads every committed block of the shuffle back from disk and verifies its checksum.\n"
     "Exits 0 when every block is intact, 1 when blocks are corrupt (each is listed: map,\n"
     "attempt, partition, sequence number, file and offset) or missing.\n"
     "Default --timeout-seconds: 3600."},
    {Command::kDrain, "drain", "", 0, "stop accepting writes, finish commits, sync",
     "Drains the server: it stops accepting pushes, commits and new shuffles (clients get\n"
     "UNAVAILABLE \"server draining\"), waits for the commits in flight and syncs; reads keep\n"
     "working. The server stays draining until it restarts (SIGTERM drains the same way).\n"
     "--timeout-seconds N: how long the server waits for commits in flight (default: its\n"
     "--drain-timeout-seconds). Exits 1 if commits were still running at the deadline."},
    {Command::kHealth, "health", "", 0, "gRPC health check of the control plane",
     "Calls the standard gRPC health service (grpc.health.v1.Health/Check) of the server.\n"
     "Prints SERVING and exits 0 when the server serves; exits 1 when it does not (draining,\n"
     "stopping) or cannot be reached. Needs no secret: the DaemonSet's readiness and liveness\n"
     "probes run it."},
}};

const CommandSpec* FindCommand(std::string_view name) {
  for (const CommandSpec& spec : kCommands) {
    if (spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

const CommandSpec& SpecOf(Command command) {
  for (const CommandSpec& spec : kCommands) {
    if (spec.command == command) {
      return spec;
    }
  }
  return kCommands[0];
}

absl::Status UnknownCommand(std::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command '", ToAbsl(name),
                   "': expected status, apps, shuffles, remove-app, scrub or drain"));
}

// Sets a flag that takes a value.
absl::Status SetFlag(std::string_view name, const std::string& value, CtlOptions* o) {
  if (name == "server") {
    if (value.empty()) {
      return absl::InvalidArgumentError("--server is empty: expected HOST:PORT");
    }
    o->server = value;
  } else if (name == "secret-file") {
    o->secret_file = value;
  } else if (name == "timeout-seconds") {
    uint64_t seconds = 0;
    if (!absl::SimpleAtoi(value, &seconds) || seconds < 1 || seconds > 86400) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout-seconds=", value, ": expected a whole number from 1 to 86400"));
    }
    o->timeout_seconds = seconds;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", ToAbsl(name)));
  }
  return absl::OkStatus();
}

// Splits flags (applied to *o) from positional arguments.
absl::StatusOr<std::vector<std::string>> SplitArgs(const std::vector<std::string>& args,
                                                   CtlOptions* o) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // the rest are arguments, even if they start with '-'
      positional.insert(positional.end(), args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      o->help = true;
    } else if (arg == "--json") {
      o->json = true;
    } else if (arg.rfind("--", 0) == 0) {
      const size_t eq = arg.find('=');
      const std::string name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
      if (name == "json" || name == "help") {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      if (name != "server" && name != "secret-file" && name != "timeout-seconds") {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
      }
      std::string value;
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      SHUFFLE_RETURN_IF_ERROR(SetFlag(name, value, o));
    } else if (arg.size() > 1 && arg[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    } else {
      positional.push_back(arg);
    }
  }
  return positional;
}

absl::Status SetArguments(const CommandSpec& spec, const std::vector<std::string>& args,
                          CtlOptions* o) {
  if (args.size() < spec.arity) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(spec.name), " needs ",
                                                   ToAbsl(spec.arguments), " (see shufflectl ",
                                                   ToAbsl(spec.name), " --help)"));
  }
  if (args.size() > spec.arity) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args[spec.arity], "' for ", ToAbsl(spec.name)));
  }
  if (spec.arity >= 1) {
    if (args[0].empty()) {
      return absl::InvalidArgumentError("APP_ID is empty");
    }
    o->app_id = args[0];
  }
  if (spec.arity >= 2 && !absl::SimpleAtoi(args[1], &o->shuffle_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SHUFFLE_ID '", args[1], "': expected a whole number from 0 to 4294967295"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view CommandName(Command command) { return SpecOf(command).name; }

absl::StatusOr<CtlOptions> ParseCtlOptions(const std::vector<std::string>& args) {
  CtlOptions o;
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<std::string> positional, SplitArgs(args, &o));
  if (!positional.empty() && positional[0] == "help") {  // shufflectl help [COMMAND]
    o.help = true;
    positional.erase(positional.begin());
    if (positional.size() > 1) {
      return absl::InvalidArgumentError("help takes at most one command");
    }
  }
  if (positional.empty()) {
    if (o.help) {
      return o;
    }
    return absl::InvalidArgumentError(
        "no command given: expected status, apps, shuffles, remove-app, scrub or drain");
  }
  const CommandSpec* spec = FindCommand(positional[0]);
  if (spec == nullptr) {
    return UnknownCommand(positional[0]);
  }
  if (o.help) {
    o.help_command = spec->command;
    return o;
  }
  o.command = spec->command;
  positional.erase(positional.begin());
  SHUFFLE_RETURN_IF_ERROR(SetArguments(*spec, positional, &o));
  return o;
}

uint64_t RpcTimeoutSeconds(const CtlOptions& o) {
  if (o.command == Command::kDrain) {
    return o.timeout_seconds.has_value() ? *o.timeout_seconds + 30 : 3600;
  }
  if (o.timeout_seconds.has_value()) {
    return *o.timeout_seconds;
  }
  return o.command == Command::kScrub ? kDefaultScrubTimeoutSeconds : kDefaultTimeoutSeconds;
}

uint32_t DrainTimeoutSeconds(const CtlOptions& o) {
  return static_cast<uint32_t>(o.timeout_seconds.value_or(0));
}

std::string Usage(std::optional<Command> command) {
  static constexpr std::string_view kGlobalFlags =
      "Global flags (anywhere on the line):\n"
      "  --server=HOST:PORT      the server's control plane (default 127.0.0.1:7338)\n"
      "  --secret-file=PATH      the operator secret (the server's --registration-secret-file);\n"
      "                          needed when the server runs with secrets\n"
      "  --json                  print JSON instead of tables\n"
      "  --timeout-seconds=N     how long to wait for the server (default 30; scrub 3600)\n"
      "  --help                  this page; 'shufflectl COMMAND --help' for a command's\n";
  static constexpr std::string_view kExitCodes =
      "Exit codes: 0 done; 1 the operation failed (or scrub found damage); 2 usage error.\n";
  if (command.has_value()) {
    const CommandSpec& spec = SpecOf(*command);
    return absl::StrCat("Usage: shufflectl [flags] ", ToAbsl(spec.name),
                        spec.arguments.empty() ? "" : " ", ToAbsl(spec.arguments), "\n\n",
                        ToAbsl(spec.details), "\n\n", ToAbsl(kGlobalFlags), "\n",
                        ToAbsl(kExitCodes));
  }
  std::string usage =
      "Usage: shufflectl [flags] COMMAND [ARGS]\n\n"
      "Administers a node-local shuffle server over its gRPC control plane.\n\nCommands:\n";
  for (const CommandSpec& spec : kCommands) {
    const std::string head = absl::StrCat(ToAbsl(spec.name), " ", ToAbsl(spec.arguments));
    absl::StrAppend(&usage, "  ", head, std::string(head.size() < 24 ? 24 - head.size() : 1, ' '),
                    ToAbsl(spec.summary), "\n");
  }
  absl::StrAppend(&usage, "\n", ToAbsl(kGlobalFlags), "\n", ToAbsl(kExitCodes));
  return usage;
}

}  // namespace shuffle::shufflectl
