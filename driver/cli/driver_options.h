// DriverOptions: the shuffle-driver command line (a core::FlagTable, like every binary's: --help
// prints this program's flags, every error names the flag), and what follows from it: the job
// spec (records per map from --size) and the local cluster's layout.
// Plain values and pure functions; thread-safe.
#ifndef SHUFFLE_DRIVER_CLI_DRIVER_OPTIONS_H_
#define SHUFFLE_DRIVER_CLI_DRIVER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle/core/flags.h"
#include "shuffle/proto/driver.pb.h"

namespace shuffle::cli {

struct DriverOptions {
  std::string job = "sort";
  uint64_t size_bytes = 1ull << 30;
  uint32_t maps = 64;
  uint32_t partitions = 32;
  uint64_t seed = 42;
  uint32_t replicas = 1;         // copies of each map output, on different nodes' servers
  bool adopt_lost_nodes = true;  // a lost node's data adopted from the shared volume
  uint32_t nodes = 3;
  uint32_t executors = 3;
  uint32_t slots = 2;
  uint32_t evict_during_map = 0;
  uint32_t evict_during_reduce = 0;
  std::string chaos;  // "KIND=N[@map|@reduce],..." (see chaos.h)
  uint32_t partition_seconds = 10;
  uint32_t slow_disk_mib_per_second = 8;
  std::string work_dir;  // default: a new directory under $TMPDIR, removed at the end
  bool keep_work_dir = false;
  std::string server_binary;    // default: found beside this program
  std::string executor_binary;  // default: found beside this program
  uint64_t timeout_seconds = 3600;
  // Where executors run: "local" (simulated nodes on this machine) or "kubernetes".
  std::string backend = "local";
  // Kubernetes backend.
  std::string kubeconfig;      // empty: in-cluster when $KUBERNETES_SERVICE_HOST is set
  std::string namespace_name;  // executor pods' namespace; empty: the config's default
  std::string server_namespace = "shuffle-system";
  std::string image = "shuffle/shuffle:0.1.0";
  std::string executor_command = "/usr/local/bin/shuffle-executor";
  std::string driver_pod;            // owner of the executor pods; default $POD_NAME
  std::string operator_secret_file;  // registers the application with the servers
  std::string listen;                // the driver's gRPC; default per backend
  std::string advertise_host;        // how executors reach the driver; default $POD_IP
  // TLS. Local backend: the servers' certificate and key, and the CA everything checks them
  // with. Kubernetes: the CA file the driver checks the DaemonSet's servers with, the Secret
  // holding it that executor pods mount, and the name on the servers' certificate (default
  // shuffle-server.<server_namespace>.svc).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  std::string tls_server_name;
  std::string tls_ca_secret;
  std::string log_level = "info";
  bool progress = true;
  bool help = false;
};

// The flag table, its setters writing into `*options`.
core::FlagTable DriverFlags(DriverOptions* options);
// INVALID_ARGUMENT naming the flag for an unknown flag or a bad value.
absl::StatusOr<DriverOptions> ParseDriverOptions(const std::vector<std::string>& args);
std::string DriverUsage();

// "1GiB", "256MiB", "64KiB", "100MB", "1000" (bytes).
absl::StatusOr<uint64_t> ParseSize(std::string_view text);

// The job spec for the options: records per map so that the input is about --size.
proto::JobSpec MakeJobSpec(const DriverOptions& options);

}  // namespace shuffle::cli

#endif  // SHUFFLE_DRIVER_CLI_DRIVER_OPTIONS_H_
