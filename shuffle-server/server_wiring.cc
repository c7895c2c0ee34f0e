// What the parsed server options turn into: the advertised data-plane address, the engine's and
// the data plane's options, and the ready-file line.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/server_options.h"
#include "shuffle/core/strings.h"

namespace shuffle::server {
namespace {

using core::ToAbsl;

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

}  // namespace

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

std::string ReadyLine(const ServerOptions& options, uint16_t data_port, uint16_t control_port,
                      uint16_t metrics_port, uint16_t spark_port) {
  const std::string data =
      options.listen.empty() ? "" : absl::StrCat(HostOf(options.listen), ":", data_port);
  const std::string metrics = options.metrics_listen.empty()
                                  ? ""
                                  : absl::StrCat(HostOf(options.metrics_listen), ":", metrics_port);
  const std::string spark = options.spark_local_dirs_root.empty()
                                ? ""
                                : absl::StrCat(HostOf(options.spark_listen), ":", spark_port);
  return absl::StrCat("data=", data, " control=", HostOf(options.control_listen), ":", control_port,
                      " metrics=", metrics, " socket=", options.socket_path, " spark=", spark,
                      "\n");
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
