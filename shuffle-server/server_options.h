// ServerOptions: the shuffle-server daemon's command line and configuration file. The flags are one
// core::FlagTable (ServerFlags): it parses the command line, renders --help, and takes the YAML
// file's settings through the same setters, so every error names the flag (or the file, line and
// key) and says what is expected. A new flag is one entry there and one field here (its YAML key
// follows). Also: the defaults taken from the environment (node name, advertised address) and the
// options handed to the engine and the data plane. Plain values and pure functions; thread-safe.
#ifndef SHUFFLE_SERVER_SERVER_OPTIONS_H_
#define SHUFFLE_SERVER_SERVER_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/dataplane/options.h"
#include "shuffle-server/handover/peer_spec.h"
#include "shuffle-server/server_config.h"
#include "shuffle-server/sparkess/server.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/core/flags.h"

namespace shuffle::server {

enum class HandOverOnStop { kNever, kCordoned, kAlways };

struct ServerOptions {
  std::vector<std::string> data_dirs;  // required
  std::string index_dir;               // default: <data_dirs[0]>/index
  std::string listen = "0.0.0.0:7340";
  std::string socket_path;
  uint64_t socket_send_buffer_kib = 4096;  // 0: the kernel's default
  std::string control_listen = "0.0.0.0:7338";
  std::string node_name;          // default: $NODE_NAME, else the host name
  std::string advertise_address;  // default: see AdvertiseAddress()
  uint64_t memory_budget_mib = 256;
  uint64_t min_free_mib = 512;
  uint64_t extent_kib = 1024;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  std::string ready_file;
  // Security: the cluster token secret (HMAC key shared by every server) and the operator
  // secret a driver must present to register an application. Neither: unauthenticated.
  std::string secret_file;
  std::string registration_secret_file;
  // TLS on the data plane's TCP listener (docs/security.md): PEM certificate and key, reloaded
  // when the files change; with a client CA, clients must present a certificate it signed.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // The CA this server checks its peers with when it hands its outputs over (it shows its own
  // certificate to them as a client certificate).
  std::string tls_ca_file;
  // On Kubernetes: drivers register with their service-account token, checked with the
  // TokenReview API (docs/security.md). The API server is reached with kubeconfig, else in-cluster
  // (also for the hand-over on stop below).
  bool token_review = false;
  std::string kubeconfig;
  std::string token_review_audience;                               // empty: the API server's own
  uint64_t token_review_cache_seconds = 60;                        // 0: no cache
  std::string token_review_resource = "applications.shuffle.dev";  // empty: no RBAC check
  // Operations.
  std::string metrics_listen = "0.0.0.0:7339";  // empty: no metrics endpoint
  uint64_t app_ttl_minutes = 24 * 60;           // 0: never remove idle applications
  std::map<std::string, uint64_t> namespace_quota_mib;
  uint64_t default_namespace_quota_mib = 0;  // 0: unlimited
  // SIGTERM (and a Drain call without its own timeout) waits this long for commits and requests
  // in flight before stopping anyway.
  uint64_t drain_timeout_seconds = 30;
  // Spark's external shuffle service protocol (shuffle-server/sparkess): on when
  // spark_local_dirs_root is set (the hostPath executors keep spark.local.dir on).
  std::string spark_listen = "0.0.0.0:7337";
  std::string spark_local_dirs_root;
  std::string spark_secret_file;           // spark.authenticate: one secret for every application
  std::string spark_secrets_dir;           // or one file per application id
  uint64_t spark_auth_engine_version = 1;  // spark.network.crypto.authEngineVersion
  // Hand-over on stop (docs/node-loss.md): on SIGTERM, copy every committed map output to peer
  // servers before exiting: never, always, or when the node is cordoned or going away (asked of
  // the Kubernetes API).
  HandOverOnStop handover_on_stop = HandOverOnStop::kNever;
  std::vector<handover::PeerServer> handover_peers;  // static peers
  std::string handover_peer_selector;  // else: the server pods with these labels (Kubernetes)
  uint64_t handover_timeout_seconds = 120;
  // After the hand-over: how long the server keeps serving reads and the moves' new places
  // (GetMovedOutputs) so drivers can re-point their readers before it exits.
  uint64_t handover_linger_seconds = 10;
  // Adoption (docs/node-loss.md): the shared volume holding every node's data directory
  // (DIR/<node>; "" turns Adopt off), and where adopted directories' planes listen and are
  // reached (default: $POD_IP, else this server's advertised host).
  std::string adopt_root;
  std::string adopt_listen_host = "0.0.0.0";
  std::string adopt_advertise_host;
  // The YAML file the settings were read from first (server_config.h); "" for none.
  std::string config_file;

  bool help = false;
  bool version = false;
};

// Reads an environment variable; nullopt when unset or empty.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
// getenv(3).
std::optional<std::string> ProcessEnv(const char* name);

// The flag table, its setters writing into `*options`.
core::FlagTable ServerFlags(ServerOptions* options);

// Parses the arguments after the program name: "--flag=value" or "--flag value". With
// --config=PATH, the file's settings (server_config.h) are applied first and the command line's
// flags override them; a list flag (--data-dir) given on the command line replaces the file's
// list. INVALID_ARGUMENT naming the flag (or the file, line and key) for an unknown flag or key, a
// missing or malformed value, or a missing --data-dir (unless --help or --version is given);
// NOT_FOUND for an unreadable config file. Fills node_name from `env` and `hostname` when unset.
absl::StatusOr<ServerOptions> ParseServerOptions(const std::vector<std::string>& args,
                                                 const EnvLookup& env, const std::string& hostname);

// The config file's keys: every flag's name, except "data-dirs" (a list, for --data-dir) and
// "namespace-quotas" (a map of namespace to MiB, for --namespace-quota-mib); not "config".
ConfigSchema ServerConfigSchema();

// The --help page.
std::string ServerUsage();

// The data-plane address put in every MapStatus: --advertise-address (a bare host gets the
// --listen port), else $POD_IP or $HOST_IP with the --listen port; "" (the data plane then uses
// the listen host and the bound port) when neither is set, or when the port is 0 and only known
// after binding. INVALID_ARGUMENT for a bare --advertise-address host with --listen port 0.
absl::StatusOr<std::string> AdvertiseAddress(const ServerOptions& options, const EnvLookup& env);

storage::EngineOptions ToEngineOptions(const ServerOptions& options);
dataplane::DataPlaneOptions ToDataPlaneOptions(const ServerOptions& options,
                                               std::string advertise_address);

// The data plane's TLS files (cert_file empty: TLS off).
tls::ServerFiles TlsFiles(const ServerOptions& options);
// How this server reaches its peers' data planes in a hand-over (ca_file empty: plaintext).
tls::ClientFiles PeerTls(const ServerOptions& options);

// Where an adopted directory's planes are reached: --adopt-advertise-host, else $POD_IP, else the
// host of AdvertiseAddress(), else the --listen host.
std::string AdoptAdvertiseHost(const ServerOptions& options, const EnvLookup& env);

// The options of the server that serves node `node`'s adopted directory `dir` in this process:
// this server's security, TLS and storage settings, its own directory and name, ports picked by
// the system on --adopt-listen-host, no Unix socket, metrics, Spark listener, ready file or
// hand-over.
ServerOptions AdoptedServerOptions(const ServerOptions& options, const std::string& node,
                                   const std::string& dir);

// The Spark listener's options; nullopt when it is off (no --spark-local-dirs-root).
std::optional<sparkess::SparkEssOptions> ToSparkEssOptions(const ServerOptions& options);

}  // namespace shuffle::server

#endif  // SHUFFLE_SERVER_SERVER_OPTIONS_H_
