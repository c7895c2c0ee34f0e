#include "driver/kube/config.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::kube {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) {
    return path;
  }
  return absl::StrCat(base_dir, "/", path);
}

// A string entry of a YAML map, or "" when absent.
std::string Str(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  if (!v || !v.IsScalar()) {
    return "";
  }
  return v.as<std::string>();
}

// The `inner` map of the entry named `name` in the list `list` ("clusters", "users", "contexts").
absl::StatusOr<YAML::Node> Named(const YAML::Node& root, const char* list, const char* inner,
                                 const std::string& name, const std::string& origin) {
  const YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const YAML::Node& entry : entries) {
      if (Str(entry, "name") == name) {
        YAML::Node value = entry[inner];
        if (!value || !value.IsMap()) {
          return absl::InvalidArgumentError(
              absl::StrCat(origin, ": ", list, " entry '", name, "' has no '", inner, "' map"));
        }
        return value;
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(origin, ": no entry named '", name, "' under '", list, "'"));
}

// PEM from an inline base64 `*-data` entry or a file entry; "" when neither is set.
absl::StatusOr<std::string> PemFrom(const YAML::Node& map, const char* data_key,
                                    const char* file_key, const std::string& base_dir,
                                    const std::string& origin) {
  if (std::string data = Str(map, data_key); !data.empty()) {
    std::string pem;
    if (!absl::Base64Unescape(data, &pem)) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", data_key, " is not base64"));
    }
    return pem;
  }
  if (std::string file = Str(map, file_key); !file.empty()) {
    return ReadSmallFile(Resolve(base_dir, file));
  }
  return std::string();
}

absl::StatusOr<Config> FromYaml(const YAML::Node& root, const std::string& base_dir,
                                std::string_view context_name, const std::string& origin) {
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a kubeconfig (no map)"));
  }
  std::string context(context_name);
  if (context.empty()) {
    context = Str(root, "current-context");
  }
  if (context.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": no current-context and no context given"));
  }
  SHUFFLE_ASSIGN_OR_RETURN(const YAML::Node ctx,
                           Named(root, "contexts", "context", context, origin));
  SHUFFLE_ASSIGN_OR_RETURN(const YAML::Node cluster,
                           Named(root, "clusters", "cluster", Str(ctx, "cluster"), origin));
  Config config;
  config.server = std::string(absl::StripSuffix(Str(cluster, "server"), "/"));
  if (config.server.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": cluster '", Str(ctx, "cluster"), "' has no server"));
  }
  config.insecure_skip_tls_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
  SHUFFLE_ASSIGN_OR_RETURN(config.ca_pem, PemFrom(cluster, "certificate-authority-data",
                                                  "certificate-authority", base_dir, origin));
  if (std::string ns = Str(ctx, "namespace"); !ns.empty()) {
    config.default_namespace = ns;
  }
  const std::string user_name = Str(ctx, "user");
  if (user_name.empty()) {
    return config;  // anonymous
  }
  SHUFFLE_ASSIGN_OR_RETURN(const YAML::Node user, Named(root, "users", "user", user_name, origin));
  if (user["exec"] || user["auth-provider"]) {
    return absl::FailedPreconditionError(absl::StrCat(
        origin, ": user '", user_name,
        "' uses an exec or auth-provider plugin, which this client does not run; use a token"));
  }
  config.bearer_token = Str(user, "token");
  if (std::string file = Str(user, "tokenFile"); !file.empty()) {
    config.token_file = Resolve(base_dir, file);
  }
  SHUFFLE_ASSIGN_OR_RETURN(config.client_cert_pem, PemFrom(user, "client-certificate-data",
                                                           "client-certificate", base_dir, origin));
  SHUFFLE_ASSIGN_OR_RETURN(config.client_key_pem,
                           PemFrom(user, "client-key-data", "client-key", base_dir, origin));
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": user '", user_name, "' has a client certificate or key but not both"));
  }
  return config;
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::ErrnoToStatus(errno != 0 ? errno : ENOENT, "open", path);
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    return absl::InternalError(absl::StrCat("read ", path, " failed"));
  }
  return out.str();
}

absl::StatusOr<Config> ParseKubeconfig(std::string_view text, std::string_view base_dir,
                                       std::string_view context, std::string_view origin) {
  // yaml-cpp reports errors by exceptions; they stop here.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return FromYaml(root, std::string(base_dir), context, std::string(origin));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(core::ToAbsl(origin), ": malformed kubeconfig: ", e.what()));
  }
}

absl::StatusOr<Config> LoadKubeconfig(const KubeconfigOptions& options) {
  std::string path = options.path;
  if (path.empty()) {
    if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
      path = env;  // a list of files is not supported: the first one is used
      path = path.substr(0, path.find(':'));
    } else if (const char* home = std::getenv("HOME"); home != nullptr) {
      path = absl::StrCat(home, "/.kube/config");
    } else {
      return absl::FailedPreconditionError("no kubeconfig: set KUBECONFIG or HOME");
    }
  }
  SHUFFLE_ASSIGN_OR_RETURN(const std::string text, ReadSmallFile(path));
  const size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return ParseKubeconfig(text, base_dir, options.context, path);
}

absl::StatusOr<Config> LoadInClusterConfig(const InClusterOptions& options) {
  std::string host = options.host;
  std::string port = options.port;
  if (host.empty()) {
    const char* env = std::getenv("KUBERNETES_SERVICE_HOST");
    host = env != nullptr ? env : "";
  }
  if (port.empty()) {
    const char* env = std::getenv("KUBERNETES_SERVICE_PORT");
    port = env != nullptr ? env : "443";
  }
  if (host.empty()) {
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST is not set; use a kubeconfig");
  }
  Config config;
  config.server = absl::StrCat("https://", core::BracketHost(host), ":", port);
  const std::string& dir = options.service_account_dir;
  config.token_file = absl::StrCat(dir, "/token");
  SHUFFLE_ASSIGN_OR_RETURN(config.bearer_token, ReadSmallFile(config.token_file));
  SHUFFLE_ASSIGN_OR_RETURN(config.ca_pem, ReadSmallFile(absl::StrCat(dir, "/ca.crt")));
  if (absl::StatusOr<std::string> ns = ReadSmallFile(absl::StrCat(dir, "/namespace")); ns.ok()) {
    config.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return config;
}

}  // namespace shuffle::kube
