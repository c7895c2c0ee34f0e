// What the parsed server options turn into: the advertised data-plane address, and the engine's
// and the data plane's options.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle-server/server_options.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::server {

tls::ServerFiles TlsFiles(const ServerOptions& options) {
  tls::ServerFiles files;
  files.cert_file = options.tls_cert_file;
  files.key_file = options.tls_key_file;
  files.client_ca_file = options.tls_client_ca_file;
  return files;
}

tls::ClientFiles PeerTls(const ServerOptions& options) {
  tls::ClientFiles files;
  files.ca_file = options.tls_ca_file;
  if (!options.tls_ca_file.empty()) {  // for peers that require client certificates
    files.cert_file = options.tls_cert_file;
    files.key_file = options.tls_key_file;
  }
  return files;
}

namespace {

// The port of --listen, or 0 when it has none fixed (port 0, empty, or not HOST:PORT: the data
// plane reports that when it starts).
uint16_t ListenPort(const ServerOptions& options) {
  absl::StatusOr<core::Endpoint> listen = core::Endpoint::Parse(options.listen);
  return listen.ok() && !listen->is_unix() ? listen->port() : 0;
}

}  // namespace

absl::StatusOr<std::string> AdvertiseAddress(const ServerOptions& options, const EnvLookup& env) {
  const uint16_t listen_port = ListenPort(options);
  if (!options.advertise_address.empty()) {
    if (core::Endpoint::Parse(options.advertise_address).ok()) {
      return options.advertise_address;
    }
    if (listen_port == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--advertise-address=", options.advertise_address,
          " has no port and --listen has none fixed: give --advertise-address=HOST:PORT"));
    }
    absl::StatusOr<core::Endpoint> host =
        core::Endpoint::ParseWithDefaultPort(options.advertise_address, listen_port);
    if (!host.ok()) {
      return core::Annotate(host.status(), "--advertise-address");
    }
    return host->ToString();
  }
  std::optional<std::string> ip = env("POD_IP");
  if (!ip.has_value()) {
    ip = env("HOST_IP");
  }
  if (!ip.has_value() || listen_port == 0) {
    return std::string();
  }
  return core::Endpoint::Tcp(*ip, listen_port).ToString();
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
  data.unix_send_buffer_bytes = options.socket_send_buffer_kib << 10;
  data.node_name = options.node_name;
  data.advertise_address = std::move(advertise_address);
  return data;
}

std::optional<sparkess::SparkEssOptions> ToSparkEssOptions(const ServerOptions& options) {
  if (options.spark_local_dirs_root.empty()) {
    return std::nullopt;
  }
  sparkess::SparkEssOptions spark;
  spark.listen_address = options.spark_listen;
  spark.local_dirs_root = options.spark_local_dirs_root;
  spark.app_ttl_minutes = options.app_ttl_minutes;
  spark.secret_file = options.spark_secret_file;
  spark.secrets_dir = options.spark_secrets_dir;
  spark.aes_engine_version = static_cast<int>(options.spark_auth_engine_version);
  return spark;
}

}  // namespace shuffle::server
