#include "shuffle-server/server_options.h"

#include <cstdlib>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::server {
namespace {

using core::ToAbsl;

// Largest accepted size values; beyond them the byte counts would overflow.
constexpr uint64_t kMaxMib = uint64_t{1} << 30;
constexpr uint64_t kMaxKib = uint64_t{1} << 30;

struct Flag {
  std::string_view name;  // without "--"
  std::string_view value_name;
  std::string_view help;
  std::function<absl::Status(std::string_view value, ServerOptions* options)> set;
};

absl::Status ParseSize(std::string_view flag, std::string_view value, uint64_t min, uint64_t max,
                       uint64_t* out) {
  uint64_t parsed = 0;
  if (!absl::SimpleAtoi(ToAbsl(value), &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(flag), "=", ToAbsl(value),
                                                   ": expected a whole number from ", min, " to ",
                                                   max));
  }
  *out = parsed;
  return absl::OkStatus();
}

absl::Status SetDataDirs(std::string_view value, ServerOptions* o) {
  for (absl::string_view dir : absl::StrSplit(ToAbsl(value), ',', absl::SkipWhitespace())) {
    o->data_dirs.emplace_back(dir);
  }
  return absl::OkStatus();
}

// Returns a setter that stores the value in a string member.
template <std::string ServerOptions::*kMember>
absl::Status SetString(std::string_view value, ServerOptions* o) {
  o->*kMember = std::string(value);
  return absl::OkStatus();
}

const std::vector<Flag>& Flags() {
  static const auto* const flags = new std::vector<Flag>{
      {"data-dir", "DIR",
       "Directory for shuffle data; required. Repeat the flag or separate directories with "
       "commas to spread partitions over several disks.",
       SetDataDirs},
      {"index-dir", "DIR", "RocksDB index directory (default: <first data dir>/index).",
       SetString<&ServerOptions::index_dir>},
      {"listen", "HOST:PORT",
       "Data-plane TCP address (default 0.0.0.0:7340; port 0 picks a free port; empty: no TCP).",
       SetString<&ServerOptions::listen>},
      {"socket", "PATH", "Data-plane Unix domain socket, made world-writable (default: none).",
       SetString<&ServerOptions::socket_path>},
      {"control-listen", "HOST:PORT",
       "Control-plane gRPC address (default 0.0.0.0:7338; port 0 picks a free port).",
       SetString<&ServerOptions::control_listen>},
      {"node-name", "NAME",
       "Node name reported in map statuses (default: $NODE_NAME, else the "
       "host name).",
       SetString<&ServerOptions::node_name>},
      {"advertise-address", "HOST[:PORT]",
       "Data-plane address readers connect to (default: $POD_IP, else $HOST_IP, with the "
       "--listen port; else the --listen address).",
       SetString<&ServerOptions::advertise_address>},
      {"memory-budget-mib", "N", "Memory for blocks waiting to be written (default 256).",
       [](std::string_view v, ServerOptions* o) {
         return ParseSize("memory-budget-mib", v, 1, kMaxMib, &o->memory_budget_mib);
       }},
      {"min-free-mib", "N",
       "Refuse pushes to a data directory with less free space than this (default 512).",
       [](std::string_view v, ServerOptions* o) {
         return ParseSize("min-free-mib", v, 0, kMaxMib, &o->min_free_mib);
       }},
      {"extent-kib", "N",
       "Size at which a partition's small blocks are written out as one extent; a multiple of 4 "
       "(default 1024).",
       [](std::string_view v, ServerOptions* o) {
         SHUFFLE_RETURN_IF_ERROR(ParseSize("extent-kib", v, 4, kMaxKib, &o->extent_kib));
         if (o->extent_kib % 4 != 0) {
           return absl::InvalidArgumentError(
               absl::StrCat("--extent-kib=", ToAbsl(v), ": expected a multiple of 4"));
         }
         return absl::OkStatus();
       }},
      {"log-level", "LEVEL", "debug, info (default), warning or error.",
       [](std::string_view v, ServerOptions* o) {
         absl::Status st = core::ParseLogLevel(v).status();
         o->log_level = std::string(v);
         return st.ok() ? st : core::Annotate(st, "--log-level");
       }},
      {"log-format", "FORMAT", "logfmt (default) or json.",
       [](std::string_view v, ServerOptions* o) {
         absl::Status st = core::ParseLogFormat(v).status();
         o->log_format = std::string(v);
         return st.ok() ? st : core::Annotate(st, "--log-format");
       }},
      {"ready-file", "PATH",
       "When serving, write \"data=HOST:PORT control=HOST:PORT metrics=HOST:PORT socket=PATH "
       "spark=HOST:PORT\" here (atomically), with the bound ports (docs/ready-file.md).",
       SetString<&ServerOptions::ready_file>},
      {"secret-file", "PATH",
       "Cluster token secret (>= 32 bytes; the same file on every server). Without it the "
       "server is unauthenticated.",
       SetString<&ServerOptions::secret_file>},
      {"registration-secret-file", "PATH",
       "Operator secret a driver presents to register an application (required with "
       "--secret-file).",
       SetString<&ServerOptions::registration_secret_file>},
      {"metrics-listen", "HOST:PORT",
       "Prometheus /metrics and /healthz over HTTP (default 0.0.0.0:7339; empty: off).",
       SetString<&ServerOptions::metrics_listen>},
      {"spark-local-dirs-root", "DIR",
       "Serve Spark's own external shuffle service protocol (docs/spark-ess.md) for executors "
       "whose spark.local.dir lies under DIR (the hostPath mounted at the same path in executor "
       "pods); registrations of dirs outside it are refused. Default: none, the Spark listener "
       "is off.",
       SetString<&ServerOptions::spark_local_dirs_root>},
      {"spark-listen", "HOST:PORT",
       "Address of the Spark listener (default 0.0.0.0:7337, Spark's "
       "spark.shuffle.service.port; port 0 picks a free port). Used only with "
       "--spark-local-dirs-root.",
       SetString<&ServerOptions::spark_listen>},
      {"spark-secret-file", "PATH",
       "spark.authenticate: Spark clients must authenticate (SASL DIGEST-MD5, or the AES-based "
       "protocol of spark.network.crypto.enabled) with the secret in this file "
       "(spark.authenticate.secret of every application). Without it and "
       "--spark-secrets-dir, Spark clients are not authenticated.",
       SetString<&ServerOptions::spark_secret_file>},
      {"spark-secrets-dir", "DIR",
       "spark.authenticate with one secret per application: the file DIR/<application id> "
       "(checked before --spark-secret-file).",
       SetString<&ServerOptions::spark_secrets_dir>},
      {"spark-auth-engine-version", "N",
       "spark.network.crypto.authEngineVersion of the Spark clients that authenticate with "
       "the AES-based protocol (spark.network.crypto.enabled): 1 (Spark's default) or 2.",
       [](std::string_view v, ServerOptions* o) {
         return ParseSize("spark-auth-engine-version", v, 1, 2, &o->spark_auth_engine_version);
       }},
      {"app-ttl-minutes", "N",
       "Remove applications idle (no push, commit, read or seal; for Spark's protocol no "
       "registration or fetch, and their registered local dirs are deleted) this long (default "
       "1440; 0: never).",
       [](std::string_view v, ServerOptions* o) {
         return ParseSize("app-ttl-minutes", v, 0, uint64_t{1} << 32, &o->app_ttl_minutes);
       }},
      {"namespace-quota-mib", "NS=N",
       "Disk quota of namespace NS in MiB of stored blocks; repeat for several namespaces.",
       [](std::string_view v, ServerOptions* o) {
         const size_t eq = v.find('=');
         uint64_t mib = 0;
         if (eq == std::string_view::npos || eq == 0 ||
             !ParseSize("namespace-quota-mib", v.substr(eq + 1), 1, kMaxMib, &mib).ok()) {
           return absl::InvalidArgumentError(absl::StrCat(
               "--namespace-quota-mib=", ToAbsl(v), ": expected NAMESPACE=MIB, e.g. team-a=10240"));
         }
         o->namespace_quota_mib[std::string(v.substr(0, eq))] = mib;
         return absl::OkStatus();
       }},
      {"default-namespace-quota-mib", "N",
       "Disk quota of every namespace without its own (default 0: unlimited).",
       [](std::string_view v, ServerOptions* o) {
         return ParseSize("default-namespace-quota-mib", v, 0, kMaxMib,
                          &o->default_namespace_quota_mib);
       }},
      {"drain-timeout-seconds", "N",
       "On SIGTERM, and for a Drain call without its own timeout: how long to wait for commits "
       "and requests in flight before stopping anyway (default 30).",
       [](std::string_view v, ServerOptions* o) {
         return ParseSize("drain-timeout-seconds", v, 1, 86400, &o->drain_timeout_seconds);
       }},
      {"config", "PATH",
       "YAML file of settings, applied before the command line (whose flags win). Keys are "
       "these flags' names; two take collections: data-dirs: [DIR, ...] and namespace-quotas: "
       "{NS: MIB, ...}.",
       SetString<&ServerOptions::config_file>},
  };
  return *flags;
}

const Flag* FindFlag(std::string_view name) {
  for (const Flag& flag : Flags()) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

absl::Status Validate(const ServerOptions& o) {
  if (o.data_dirs.empty()) {
    return absl::InvalidArgumentError(
        "--data-dir is required: give at least one directory for shuffle data "
        "(e.g. --data-dir=/var/lib/shuffle, or data-dirs: [...] in the --config file)");
  }
  if (!o.secret_file.empty() && o.registration_secret_file.empty()) {
    // Otherwise anyone reaching the control plane could obtain any application's token.
    return absl::InvalidArgumentError(
        "--secret-file needs --registration-secret-file: drivers must prove who they are "
        "before they are given application tokens");
  }
  std::set<std::string> seen;
  for (const std::string& dir : o.data_dirs) {
    if (!seen.insert(dir).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--data-dir ", dir, " is given twice; list each directory once"));
    }
  }
  if (o.listen.empty() && o.socket_path.empty()) {
    return absl::InvalidArgumentError(
        "the data plane has nowhere to listen: set --listen=HOST:PORT or --socket=PATH");
  }
  if (o.control_listen.empty()) {
    return absl::InvalidArgumentError("--control-listen is empty: expected HOST:PORT");
  }
  return absl::OkStatus();
}

// Appends `text` indented by six spaces, wrapped at 80 columns.
void WrapInto(std::string_view text, std::string* out) {
  constexpr size_t kIndent = 6;
  constexpr size_t kWidth = 80;
  size_t column = 0;
  for (absl::string_view word : absl::StrSplit(ToAbsl(text), ' ', absl::SkipEmpty())) {
    if (column > 0 && column + 1 + word.size() > kWidth) {
      out->push_back('\n');
      column = 0;
    }
    if (column == 0) {
      out->append(kIndent, ' ');
      column = kIndent;
    } else {
      out->push_back(' ');
      ++column;
    }
    absl::StrAppend(out, word);
    column += word.size();
  }
  out->push_back('\n');
}

// A flag of the command line and its value, not yet applied.
struct FlagValue {
  const Flag* flag = nullptr;
  std::string value;
};

// Splits the command line into flags and values; sets help and version.
absl::StatusOr<std::vector<FlagValue>> SplitFlags(const std::vector<std::string>& args,
                                                  ServerOptions* options) {
  std::vector<FlagValue> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options->help = true;
      continue;
    }
    if (arg == "--version") {
      options->version = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "': every setting is a --flag"));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const Flag* flag = FindFlag(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (eq != std::string::npos) {
      out.push_back({flag, arg.substr(eq + 1)});
    } else if (i + 1 < args.size()) {
      out.push_back({flag, args[++i]});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value (", ToAbsl(flag->value_name), ")"));
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> ProcessEnv(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

absl::StatusOr<ServerOptions> ParseServerOptions(const std::vector<std::string>& args,
                                                 const EnvLookup& env,
                                                 const std::string& hostname) {
  ServerOptions options;
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<FlagValue> flags, SplitFlags(args, &options));
  if (options.help || options.version) {
    return options;
  }
  for (const FlagValue& f : flags) {
    if (f.flag->name == "config") {
      options.config_file = f.value;
    }
  }
  if (!options.config_file.empty()) {
    SHUFFLE_ASSIGN_OR_RETURN(std::vector<ConfigSetting> settings,
                             ReadConfigFile(options.config_file, ServerConfigSchema()));
    for (const ConfigSetting& setting : settings) {
      const Flag* flag = FindFlag(setting.flag);
      SHUFFLE_CHECK(flag != nullptr) << "config schema names an unknown flag " << setting.flag;
      SHUFFLE_RETURN_IF_ERROR(core::Annotate(flag->set(setting.value, &options), setting.where));
    }
  }
  // The command line overrides the file; --data-dir given there replaces the file's list.
  bool data_dirs_from_command_line = false;
  for (const FlagValue& f : flags) {
    if (f.flag->name == "data-dir" && !data_dirs_from_command_line) {
      options.data_dirs.clear();
      data_dirs_from_command_line = true;
    }
    SHUFFLE_RETURN_IF_ERROR(f.flag->set(f.value, &options));
  }
  SHUFFLE_RETURN_IF_ERROR(Validate(options));
  if (options.node_name.empty()) {
    options.node_name = env("NODE_NAME").value_or(hostname);
  }
  return options;
}

ConfigSchema ServerConfigSchema() {
  ConfigSchema schema;
  for (const Flag& flag : Flags()) {
    schema[std::string(flag.name)] = ConfigKey{std::string(flag.name), ConfigKind::kScalar};
  }
  schema.erase("config");
  schema.erase("data-dir");
  schema.erase("namespace-quota-mib");
  schema["data-dirs"] = ConfigKey{"data-dir", ConfigKind::kList};
  schema["namespace-quotas"] = ConfigKey{"namespace-quota-mib", ConfigKind::kMap};
  return schema;
}

std::string ServerUsage() {
  std::string usage =
      "Usage: shuffle-server --data-dir=DIR [--data-dir=DIR ...] [flags]\n\n"
      "Node-local shuffle service: stores map output on local disks and serves it to reducers\n"
      "over a framed TCP / Unix-socket data plane, with a gRPC control plane.\n"
      "Settings come from these flags and, with --config=PATH, a YAML file with the same keys\n"
      "(command-line flags win). SIGTERM or SIGINT drains (no new writes, commits in flight\n"
      "finish, data synced; --drain-timeout-seconds) and stops.\n\nFlags:\n";
  for (const Flag& flag : Flags()) {
    absl::StrAppend(&usage, "  --", ToAbsl(flag.name), "=", ToAbsl(flag.value_name), "\n");
    WrapInto(flag.help, &usage);
  }
  absl::StrAppend(&usage, "  --help\n      Print this help and exit.\n",
                  "  --version\n      Print the version and exit.\n");
  return usage;
}

}  // namespace shuffle::server
