// Config: where a Kubernetes API server is and how to authenticate to it, loaded from a kubeconfig
// file or from a pod's in-cluster service-account directory. A plain value; loading functions are
// thread-safe (they only read files and the environment).
#ifndef SHUFFLE_DRIVER_KUBE_CONFIG_H_
#define SHUFFLE_DRIVER_KUBE_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shuffle::kube {

struct Config {
  std::string server;  // "https://127.0.0.1:6443", no trailing slash
  std::string ca_pem;  // CA certificates to trust (PEM); empty: the system's store
  // Bearer token. When token_file is set it is read instead, again on every request, because
  // in-cluster (bound) tokens are rotated by the kubelet.
  std::string bearer_token;
  std::string token_file;
  std::string client_cert_pem;  // client certificate authentication, both or neither
  std::string client_key_pem;
  bool insecure_skip_tls_verify = false;
  std::string default_namespace = "default";
  absl::Duration request_timeout = absl::Seconds(30);  // every request except watches
};

struct KubeconfigOptions {
  std::string path;     // empty: $KUBECONFIG, then ~/.kube/config
  std::string context;  // empty: the file's current-context
};

// Reads a kubeconfig file (YAML or JSON). Supports server, certificate-authority(-data),
// insecure-skip-tls-verify, token, tokenFile, client-certificate(-data), client-key(-data) and
// the context's namespace; relative file paths are relative to the kubeconfig's directory.
// INVALID_ARGUMENT naming the file and the missing or malformed entry; NOT_FOUND for a missing
// file. Exec and auth-provider plugins are not supported (FAILED_PRECONDITION says so).
absl::StatusOr<Config> LoadKubeconfig(const KubeconfigOptions& options);

// Parses kubeconfig text; `base_dir` resolves relative paths, `origin` names it in errors.
absl::StatusOr<Config> ParseKubeconfig(std::string_view text, std::string_view base_dir,
                                       std::string_view context, std::string_view origin);

struct InClusterOptions {
  // Holds `token`, `ca.crt` and `namespace`, as the kubelet mounts them in a pod.
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Empty: $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT.
  std::string host;
  std::string port;
};

// The configuration a pod uses to reach its cluster's API server. FAILED_PRECONDITION when the
// service host is not known (not in a pod); NOT_FOUND naming a missing token or CA file.
absl::StatusOr<Config> LoadInClusterConfig(const InClusterOptions& options);

// The whole content of a small file. NOT_FOUND / PERMISSION_DENIED / INTERNAL naming the path.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace shuffle::kube

#endif  // SHUFFLE_DRIVER_KUBE_CONFIG_H_
