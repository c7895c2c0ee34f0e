#include "shuffle-server/server_options.h"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::server {
namespace {

using core::ToAbsl;

// Largest accepted size values; beyond them the byte counts would overflow.
constexpr uint64_t kMaxMib = uint64_t{1} << 30;
constexpr uint64_t kMaxKib = uint64_t{1} << 30;

void AddStorageFlags(ServerOptions* o, core::FlagTable& t) {
  t.Section("Storage")
      .Add("data-dir", "DIR",
           "Directory for shuffle data; required. Repeat the flag or separate directories with "
           "commas to spread partitions over several disks.",
           [o](std::string_view v) {
             for (absl::string_view dir : absl::StrSplit(ToAbsl(v), ',', absl::SkipWhitespace())) {
               o->data_dirs.emplace_back(dir);
             }
             return absl::OkStatus();
           })
      .String("index-dir", "DIR", "RocksDB index directory (default: <first data dir>/index).",
              &o->index_dir)
      .Number<uint64_t>("memory-budget-mib", "N",
                        "Memory for blocks waiting to be written (default 256).",
                        &o->memory_budget_mib, 1, kMaxMib)
      .Number<uint64_t>("min-free-mib", "N",
                        "Refuse pushes to a data directory with less free space than this "
                        "(default 512).",
                        &o->min_free_mib, 0, kMaxMib)
      .Add("extent-kib", "N",
           "Size at which a partition's small blocks are written out as one extent; a multiple "
           "of 4 (default 1024).",
           [o](std::string_view v) {
             SHUFFLE_RETURN_IF_ERROR(
                 core::ParseWholeNumber("extent-kib", v, 4, kMaxKib, &o->extent_kib));
             if (o->extent_kib % 4 != 0) {
               return core::BadFlagValue("extent-kib", v, "a multiple of 4");
             }
             return absl::OkStatus();
           })
      .Add("namespace-quota-mib", "NS=N",
           "Disk quota of namespace NS in MiB of stored blocks; repeat for several namespaces.",
           [o](std::string_view v) {
             const size_t eq = v.find('=');
             uint64_t mib = 0;
             if (eq == std::string_view::npos || eq == 0 ||
                 !core::ParseWholeNumber("namespace-quota-mib", v.substr(eq + 1), 1, kMaxMib, &mib)
                      .ok()) {
               return core::BadFlagValue("namespace-quota-mib", v,
                                         "NAMESPACE=MIB, e.g. team-a=10240");
             }
             o->namespace_quota_mib[std::string(v.substr(0, eq))] = mib;
             return absl::OkStatus();
           })
      .Number<uint64_t>("default-namespace-quota-mib", "N",
                        "Disk quota of every namespace without its own (default 0: unlimited).",
                        &o->default_namespace_quota_mib, 0, kMaxMib)
      .Number<uint64_t>("app-ttl-minutes", "N",
                        "Remove applications idle (no push, commit, read or seal; for Spark's "
                        "protocol no registration or fetch, and their registered local dirs are "
                        "deleted) this long (default 1440; 0: never).",
                        &o->app_ttl_minutes, 0, uint64_t{1} << 32);
}

// Every listener of the server: one flag for its address, and its key in the ready file.
void AddListenerFlags(ServerOptions* o, core::FlagTable& t) {
  t.Section("Listeners")
      .String("listen", "HOST:PORT",
              "Data-plane TCP address (default 0.0.0.0:7340; port 0 picks a free port; empty: no "
              "TCP).",
              &o->listen)
      .String("socket", "PATH",
              "Data-plane Unix domain socket, made world-writable (default: "
              "none).",
              &o->socket_path)
      .Number<uint64_t>("socket-send-buffer-kib", "N",
                        "Send buffer of each --socket connection (default 4096; 0: the "
                        "kernel's default). A Unix socket's window is its sender's buffer, so a "
                        "fetch over it waits for the reducer every buffer's worth; the kernel "
                        "caps it at net.core.wmem_max unless the server has CAP_NET_ADMIN (a "
                        "warning at start says so).",
                        &o->socket_send_buffer_kib, 0, uint64_t{1} << 20)
      .String("control-listen", "HOST:PORT",
              "Control-plane gRPC address (default 0.0.0.0:7338; port 0 picks a free port).",
              &o->control_listen)
      .String("metrics-listen", "HOST:PORT",
              "Prometheus /metrics and /healthz over HTTP (default 0.0.0.0:7339; empty: off).",
              &o->metrics_listen)
      .String("node-name", "NAME",
              "Node name reported in map statuses (default: $NODE_NAME, else the host name).",
              &o->node_name)
      .String("advertise-address", "HOST[:PORT]",
              "Data-plane address readers connect to (default: $POD_IP, else $HOST_IP, with the "
              "--listen port; else the --listen address).",
              &o->advertise_address)
      .String("ready-file", "PATH",
              "When serving, write the bound addresses here (atomically; one KEY=HOST:PORT a "
              "line, see docs/ready-file.md); removed on a clean stop.",
              &o->ready_file);
}

// Spark's external shuffle service protocol (shuffle-server/sparkess, docs/spark-ess.md).
void AddSparkFlags(ServerOptions* o, core::FlagTable& t) {
  t.Section("Spark's shuffle service protocol")
      .String("spark-local-dirs-root", "DIR",
              "Serve Spark's own external shuffle service protocol (docs/spark-ess.md) for "
              "executors whose spark.local.dir lies under DIR (the hostPath mounted at the same "
              "path in executor pods); registrations of dirs outside it are refused. Default: "
              "none, the Spark listener is off.",
              &o->spark_local_dirs_root)
      .String("spark-listen", "HOST:PORT",
              "Address of the Spark listener (default 0.0.0.0:7337, Spark's "
              "spark.shuffle.service.port; port 0 picks a free port). Used only with "
              "--spark-local-dirs-root.",
              &o->spark_listen)
      .String("spark-secret-file", "PATH",
              "spark.authenticate: Spark clients must authenticate (SASL DIGEST-MD5, or the "
              "AES-based protocol of spark.network.crypto.enabled) with the secret in this file "
              "(spark.authenticate.secret of every application). Without it and "
              "--spark-secrets-dir, Spark clients are not authenticated.",
              &o->spark_secret_file)
      .String("spark-secrets-dir", "DIR",
              "spark.authenticate with one secret per application: the file DIR/<application "
              "id> (checked before --spark-secret-file).",
              &o->spark_secrets_dir)
      .Number<uint64_t>("spark-auth-engine-version", "N",
                        "spark.network.crypto.authEngineVersion of the Spark clients that "
                        "authenticate with the AES-based protocol (spark.network.crypto.enabled): "
                        "1 (Spark's default) or 2.",
                        &o->spark_auth_engine_version, 1, 2);
}

void AddOperationFlags(ServerOptions* o, core::FlagTable& t) {
  t.Section("Security")
      .String("secret-file", "PATH",
              "Cluster token secret (>= 32 bytes; the same file on every server). Without it the "
              "server is unauthenticated.",
              &o->secret_file)
      .String("registration-secret-file", "PATH",
              "Operator secret a driver presents to register an application (required with "
              "--secret-file).",
              &o->registration_secret_file)
      .String("tls-cert-file", "PATH",
              "PEM certificate (then its chain) for TLS on the TCP planes: the data plane, the "
              "control plane (gRPC) and /metrics (HTTPS), TLS 1.2 or newer; the Unix socket "
              "stays plaintext. Reloaded when the file changes, for new connections (a rotated "
              "Kubernetes Secret). Needs --tls-key-file.",
              &o->tls_cert_file)
      .String("tls-key-file", "PATH", "PEM private key of --tls-cert-file.", &o->tls_key_file)
      .String("tls-client-ca-file", "PATH",
              "PEM CA bundle: clients of the data and control planes must present a "
              "certificate it signed (mutual TLS); /metrics asks for none.",
              &o->tls_client_ca_file)
      .String("tls-ca-file", "PATH",
              "PEM CA bundle this server checks its peers' certificates with when it hands its "
              "map outputs over to them (their planes have TLS); it shows its own "
              "--tls-cert-file to them, for peers with --tls-client-ca-file.",
              &o->tls_ca_file)
      .Switch("token-review",
              "On Kubernetes: drivers register with their pod's service-account token, checked "
              "with the API server's TokenReview API; the application's namespace is the "
              "service account's. The operator secret still registers in any namespace. Needs "
              "--secret-file; the server's own service account needs \"create\" on tokenreviews "
              "and subjectaccessreviews (deploy/base/rbac.yaml).",
              [o] { o->token_review = true; })
      .String("kubeconfig", "PATH",
              "How --token-review, --handover-on-stop=cordoned and --handover-peer-selector reach "
              "the Kubernetes API server (default: in-cluster, the pod's service account).",
              &o->kubeconfig)
      .String("token-review-audience", "AUD",
              "The audience drivers' tokens must be meant for (default: the API server's own).",
              &o->token_review_audience)
      .Number<uint64_t>("token-review-cache-seconds", "N",
                        "How long a positive review is trusted before the token is reviewed "
                        "again (default 60; 0: every registration).",
                        &o->token_review_cache_seconds, 0, 3600)
      .String("token-review-resource", "RESOURCE.GROUP",
              "With --token-review, the driver's service account must also be allowed to "
              "\"create\" this resource in its namespace, by RBAC (a SubjectAccessReview; "
              "default applications.shuffle.dev; empty: any service account may register).",
              &o->token_review_resource)
      .Section("Operations")
      .Add("log-level", "LEVEL", "debug, info (default), warning or error.",
           [o](std::string_view v) {
             absl::Status st = core::ParseLogLevel(v).status();
             o->log_level = std::string(v);
             return st.ok() ? st : core::Annotate(st, "--log-level");
           })
      .Add("log-format", "FORMAT", "logfmt (default) or json.",
           [o](std::string_view v) {
             absl::Status st = core::ParseLogFormat(v).status();
             o->log_format = std::string(v);
             return st.ok() ? st : core::Annotate(st, "--log-format");
           })
      .Number<uint64_t>("drain-timeout-seconds", "N",
                        "On SIGTERM, and for a Drain call without its own timeout: how long to "
                        "wait for commits and requests in flight before stopping anyway (default "
                        "30).",
                        &o->drain_timeout_seconds, 1, 86400)
      .String("config", "PATH",
              "YAML file of settings, applied before the command line (whose flags win). Keys "
              "are these flags' names; two take collections: data-dirs: [DIR, ...] and "
              "namespace-quotas: {NS: MIB, ...}.",
              &o->config_file)
      .Switch("version", "Print the version and exit.", [o] { o->version = true; });
}

// Hand-over of the node's map outputs when it goes away (docs/node-loss.md).
void AddHandOverFlags(ServerOptions* o, core::FlagTable& t) {
  t.Section("Hand-over when the node goes away")
      .Add("handover-on-stop", "WHEN",
           "On SIGTERM, copy every committed map output to peer servers before stopping, so "
           "drivers read it there instead of re-running the maps: never (default), cordoned "
           "(when the Kubernetes API says this node is cordoned, tainted unschedulable or for "
           "termination, being deleted or gone) or always.",
           [o](std::string_view v) {
             if (v == "never") {
               o->handover_on_stop = HandOverOnStop::kNever;
             } else if (v == "cordoned") {
               o->handover_on_stop = HandOverOnStop::kCordoned;
             } else if (v == "always") {
               o->handover_on_stop = HandOverOnStop::kAlways;
             } else {
               return core::BadFlagValue("handover-on-stop", v, "never, cordoned or always");
             }
             return absl::OkStatus();
           })
      .Add("handover-peers", "LIST",
           "Peer servers that may take the outputs: comma-separated HOST (ports 7340 and 7338) "
           "or DATA_HOST:PORT/CONTROL_HOST:PORT. May repeat.",
           [o](std::string_view v) {
             absl::StatusOr<std::vector<handover::PeerServer>> peers = handover::ParsePeerList(v);
             if (!peers.ok()) {
               return core::Annotate(peers.status(), "--handover-peers");
             }
             o->handover_peers.insert(o->handover_peers.end(), peers->begin(), peers->end());
             return absl::OkStatus();
           })
      .String("handover-peer-selector", "LABELS",
              "Without --handover-peers: the peers are the running pods with these labels "
              "(e.g. app.kubernetes.io/name=shuffle,app.kubernetes.io/component=server) in this "
              "server's namespace on other nodes, at their host IP with ports 7340 and 7338 "
              "(asked of the Kubernetes API).",
              &o->handover_peer_selector)
      .Number<uint64_t>("handover-timeout-seconds", "N",
                        "How long a hand-over on SIGTERM may copy (default 120); what is not "
                        "copied by then falls back to re-runs. Keep it, plus "
                        "--handover-linger-seconds and --drain-timeout-seconds, below the pod's "
                        "terminationGracePeriodSeconds.",
                        &o->handover_timeout_seconds, 1, 86400)
      .Number<uint64_t>("handover-linger-seconds", "N",
                        "After a hand-over on SIGTERM, keep serving reads and the outputs' new "
                        "places this long, so drivers re-point their readers (default 10).",
                        &o->handover_linger_seconds, 0, 3600);
}

// Adoption of lost nodes' data directories from a shared volume (docs/node-loss.md).
void AddAdoptionFlags(ServerOptions* o, core::FlagTable& t) {
  t.Section("Adoption of a lost node's data (shared volume)")
      .String("adopt-root", "DIR",
              "A ReadWriteMany volume every server mounts, node N's data in DIR/N (this server's "
              "--data-dir is DIR/<its node>): when asked (ShuffleControl.Adopt), recover a lost "
              "node's directory and serve it under that node's name at new ports, so its map "
              "outputs are read instead of recomputed. Default: none (Adopt refused).",
              &o->adopt_root)
      .String("adopt-listen-host", "HOST",
              "Address an adopted directory's data and control planes listen on, at ports the "
              "system picks (default 0.0.0.0).",
              &o->adopt_listen_host)
      .String("adopt-advertise-host", "HOST",
              "Host readers reach an adopted directory's planes at (default: $POD_IP, else the "
              "host of this server's advertised data address, else the --listen host); the "
              "ports are not hostPorts, so on Kubernetes give the pod IP.",
              &o->adopt_advertise_host);
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
  if (absl::Status tls = tls::Validate(TlsFiles(o)); !tls.ok()) {
    return tls;
  }
  if (o.token_review && o.secret_file.empty()) {
    return absl::InvalidArgumentError(
        "--token-review needs --secret-file: a reviewed driver is given an application token, "
        "which only a server with the cluster secret can issue");
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
  if (o.handover_on_stop != HandOverOnStop::kNever && o.handover_peers.empty() &&
      o.handover_peer_selector.empty()) {
    return absl::InvalidArgumentError(
        "--handover-on-stop needs peers: give --handover-peers=LIST or "
        "--handover-peer-selector=LABELS");
  }
  return absl::OkStatus();
}

// --adopt-root: this server's own directory must be the volume's directory of its node, which
// is where other servers look for it once it is lost.
absl::Status ValidateAdoption(const ServerOptions& o) {
  if (o.adopt_root.empty()) {
    return absl::OkStatus();
  }
  const std::string expected =
      (std::filesystem::path(o.adopt_root) / o.node_name).lexically_normal().string();
  if (o.data_dirs.size() != 1 ||
      std::filesystem::path(o.data_dirs[0]).lexically_normal().string() != expected ||
      !o.index_dir.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--adopt-root=", o.adopt_root, " needs this server's data in ", expected,
        " (one --data-dir, the index in it), where other servers find it should this node be "
        "lost; this server has --data-dir=",
        absl::StrJoin(o.data_dirs, ","), o.index_dir.empty() ? "" : " --index-dir=" + o.index_dir));
  }
  return absl::OkStatus();
}

// Applies the --config file's settings (the last --config of the command line wins).
absl::Status ApplyConfigFile(const core::CommandLine& line, const core::FlagTable& flags,
                             ServerOptions* options) {
  for (const core::FlagValue& f : line.flags) {
    if (f.flag->name == "config") {
      options->config_file = f.value;
    }
  }
  if (options->config_file.empty()) {
    return absl::OkStatus();
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::vector<ConfigSetting> settings,
                           ReadConfigFile(options->config_file, ServerConfigSchema()));
  for (const ConfigSetting& setting : settings) {
    SHUFFLE_RETURN_IF_ERROR(core::Annotate(flags.Set(setting.flag, setting.value), setting.where));
  }
  return absl::OkStatus();
}

}  // namespace

core::FlagTable ServerFlags(ServerOptions* options) {
  core::FlagTable flags;
  AddStorageFlags(options, flags);
  AddListenerFlags(options, flags);
  AddSparkFlags(options, flags);
  AddHandOverFlags(options, flags);
  AddAdoptionFlags(options, flags);
  AddOperationFlags(options, flags);
  return flags;
}

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
  const core::FlagTable flags = ServerFlags(&options);
  SHUFFLE_ASSIGN_OR_RETURN(const core::CommandLine line, flags.Split(args));
  SHUFFLE_RETURN_IF_ERROR(core::NoArguments(line));
  options.help = line.help;
  for (const core::FlagValue& f : line.flags) {
    options.version = options.version || f.flag->name == "version";
  }
  if (options.help || options.version) {
    return options;
  }
  SHUFFLE_RETURN_IF_ERROR(ApplyConfigFile(line, flags, &options));
  // The command line overrides the file; --data-dir given there replaces the file's list.
  for (const core::FlagValue& f : line.flags) {
    if (f.flag->name == "data-dir") {
      options.data_dirs.clear();
      break;
    }
  }
  SHUFFLE_RETURN_IF_ERROR(core::FlagTable::Apply(line));
  SHUFFLE_RETURN_IF_ERROR(Validate(options));
  if (options.node_name.empty()) {
    options.node_name = env("NODE_NAME").value_or(hostname);
  }
  SHUFFLE_RETURN_IF_ERROR(ValidateAdoption(options));
  return options;
}

std::string AdoptAdvertiseHost(const ServerOptions& options, const EnvLookup& env) {
  if (!options.adopt_advertise_host.empty()) {
    return options.adopt_advertise_host;
  }
  if (std::optional<std::string> ip = env("POD_IP"); ip.has_value()) {
    return *ip;
  }
  for (const std::string& address :
       {AdvertiseAddress(options, env).value_or(std::string()), options.listen}) {
    absl::StatusOr<core::Endpoint> endpoint = core::Endpoint::Parse(address);
    if (endpoint.ok() && !endpoint->is_unix()) {
      return endpoint->host();
    }
  }
  return "127.0.0.1";
}

ServerOptions AdoptedServerOptions(const ServerOptions& options, const std::string& node,
                                   const std::string& dir) {
  ServerOptions adopted = options;
  adopted.data_dirs = {dir};
  adopted.index_dir.clear();
  adopted.node_name = node;
  const std::string host = options.adopt_listen_host;
  adopted.listen = core::Endpoint::Tcp(host, 0).ToString();
  adopted.control_listen = adopted.listen;
  adopted.advertise_address.clear();
  adopted.socket_path.clear();
  adopted.metrics_listen.clear();
  adopted.spark_local_dirs_root.clear();
  adopted.ready_file.clear();
  adopted.token_review = false;  // nobody registers there: reads and removals carry tokens
  adopted.handover_on_stop = HandOverOnStop::kNever;
  adopted.handover_peers.clear();
  adopted.handover_peer_selector.clear();
  adopted.adopt_root.clear();
  adopted.config_file.clear();
  return adopted;
}

ConfigSchema ServerConfigSchema() {
  ServerOptions unused;
  const core::FlagTable flags = ServerFlags(&unused);
  ConfigSchema schema;
  for (const core::Flag& flag : flags.flags()) {
    if (!flag.is_switch()) {
      schema[flag.name] = ConfigKey{flag.name, ConfigKind::kScalar};
    }
  }
  schema.erase("config");
  schema.erase("data-dir");
  schema.erase("namespace-quota-mib");
  schema["data-dirs"] = ConfigKey{"data-dir", ConfigKind::kList};
  schema["namespace-quotas"] = ConfigKey{"namespace-quota-mib", ConfigKind::kMap};
  return schema;
}

std::string ServerUsage() {
  ServerOptions unused;
  constexpr std::string_view kAbout =
      R"(Usage: shuffle-server --data-dir=DIR [--data-dir=DIR ...] [flags]

Node-local shuffle service: stores map output on local disks and serves it to reducers
over a framed TCP / Unix-socket data plane, with a gRPC control plane.
Settings come from these flags and, with --config=PATH, a YAML file with the same keys
(command-line flags win). SIGTERM or SIGINT drains (no new writes, commits in flight
finish, data synced; --drain-timeout-seconds) and stops; with --handover-on-stop it
first hands the node's map outputs over to peer servers.

)";
  return absl::StrCat(ToAbsl(kAbout), ServerFlags(&unused).Help());
}

}  // namespace shuffle::server
