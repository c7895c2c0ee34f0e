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
       "Data-plane TCP address (default 0.0.0.0:7337; port 0 picks a free port; empty: no TCP).",
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
       "When serving, write \"data=HOST:PORT control=HOST:PORT socket=PATH\" here (atomically).",
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
      {"app-ttl-minutes", "N",
       "Remove applications idle (no push, commit, read or seal) this long (default 1440; 0: "
       "never).",
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
        "(e.g. --data-dir=/var/lib/shuffle)");
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

// The port of "HOST:PORT", or nullopt when there is none.
std::optional<uint32_t> PortOf(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || address.find(']', colon) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view host = address.substr(0, colon);
  if (host.find(':') != std::string_view::npos && host.front() != '[') {
    return std::nullopt;  // a bare IPv6 address
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(ToAbsl(address.substr(colon + 1)), &port) || port > 65535) {
    return std::nullopt;
  }
  return port;
}

std::string BracketIfV6(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
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
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg == "--version") {
      options.version = true;
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
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value (", ToAbsl(flag->value_name), ")"));
    }
    SHUFFLE_RETURN_IF_ERROR(flag->set(value, &options));
  }
  if (options.help || options.version) {
    return options;
  }
  SHUFFLE_RETURN_IF_ERROR(Validate(options));
  if (options.node_name.empty()) {
    options.node_name = env("NODE_NAME").value_or(hostname);
  }
  return options;
}

std::string ServerUsage() {
  std::string usage =
      "Usage: shuffle-server --data-dir=DIR [--data-dir=DIR ...] [flags]\n\n"
      "Node-local shuffle service: stores map output on local disks and serves it to reducers\n"
      "over a framed TCP / Unix-socket data plane, with a gRPC control plane.\n"
      "Stops cleanly on SIGTERM or SIGINT.\n\nFlags:\n";
  for (const Flag& flag : Flags()) {
    absl::StrAppend(&usage, "  --", ToAbsl(flag.name), "=", ToAbsl(flag.value_name), "\n");
    WrapInto(flag.help, &usage);
  }
  absl::StrAppend(&usage, "  --help\n      Print this help and exit.\n",
                  "  --version\n      Print the version and exit.\n");
  return usage;
}

absl::StatusOr<std::string> AdvertiseAddress(const ServerOptions& options, const EnvLookup& env) {
  const uint32_t listen_port = PortOf(options.listen).value_or(0);
  if (!options.advertise_address.empty()) {
    if (PortOf(options.advertise_address).has_value()) {
      return options.advertise_address;
    }
    if (listen_port == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--advertise-address=", options.advertise_address,
          " has no port and --listen has none fixed: give --advertise-address=HOST:PORT"));
    }
    return absl::StrCat(BracketIfV6(options.advertise_address), ":", listen_port);
  }
  std::optional<std::string> ip = env("POD_IP");
  if (!ip.has_value()) {
    ip = env("HOST_IP");
  }
  if (!ip.has_value() || listen_port == 0) {
    return std::string();
  }
  return absl::StrCat(BracketIfV6(*ip), ":", listen_port);
}

storage::EngineOptions ToEngineOptions(const ServerOptions& options) {
  storage::EngineOptions engine;
  engine.data_dirs = options.data_dirs;
  engine.index_dir = options.index_dir;
  engine.memory_budget_bytes = options.memory_budget_mib << 20;
  engine.min_free_bytes = options.min_free_mib << 20;
  for (const auto& [ns, mib] : options.namespace_quota_mib) {
    engine.namespace_quota_bytes[ns] = mib << 20;
  }
  engine.default_namespace_quota_bytes = options.default_namespace_quota_mib << 20;
  engine.extent_bytes = options.extent_kib << 10;
  return engine;
}

dataplane::DataPlaneOptions ToDataPlaneOptions(const ServerOptions& options,
                                               std::string advertise_address) {
  dataplane::DataPlaneOptions data;
  data.listen_address = options.listen;
  data.socket_path = options.socket_path;
  data.node_name = options.node_name;
  data.advertise_address = std::move(advertise_address);
  return data;
}

std::string HostOf(std::string_view address) {
  if (!PortOf(address).has_value()) {
    return std::string(address);
  }
  return std::string(address.substr(0, address.rfind(':')));
}

std::string ReadyLine(const ServerOptions& options, uint16_t data_port, uint16_t control_port) {
  const std::string data =
      options.listen.empty() ? "" : absl::StrCat(HostOf(options.listen), ":", data_port);
  return absl::StrCat("data=", data, " control=", HostOf(options.control_listen), ":", control_port,
                      " socket=", options.socket_path, "\n");
}

}  // namespace shuffle::server
