// Clusters: the backends shuffle-driver can run a job on, started from its options: the local
// cluster (simulated nodes on this machine, each with its own shuffle-server) or a Kubernetes
// cluster (executor pods next to the shuffle-server DaemonSet). Not thread-safe; called once.
#ifndef SHUFFLE_DRIVER_CLI_CLUSTERS_H_
#define SHUFFLE_DRIVER_CLI_CLUSTERS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "driver/chaos/fault_plan.h"
#include "driver/cli/driver_options.h"
#include "driver/kube/client.h"
#include "driver/podmanager/backend.h"

namespace shuffle::cli {

struct Cluster {
  std::unique_ptr<kube::Client> client;  // Kubernetes only; outlives `backend`
  std::unique_ptr<podmanager::Backend> backend;
  // Registers the application with the servers: the operator secret, or on Kubernetes without
  // one the driver's service-account token (reviewed by servers with --token-review), read from
  // identity_token_file at each registration when the token is a rotated file.
  std::string operator_secret;
  std::string identity_token_file;
  std::string listen;                          // the driver's gRPC service
  std::string advertise_host;                  // how executors reach it
  std::string description;                     // what to print about the cluster
  std::unique_ptr<chaos::FaultTarget> faults;  // node-level faults; null where none can be injected
};

// Starts the local cluster's servers under options.work_dir.
absl::StatusOr<Cluster> StartLocalCluster(const DriverOptions& options);
// Connects to the API server and checks the driver's permissions; executor pods get the `app`
// label `app_id`.
absl::StatusOr<Cluster> ConnectKubernetes(const DriverOptions& options, const std::string& app_id);

}  // namespace shuffle::cli

#endif  // SHUFFLE_DRIVER_CLI_CLUSTERS_H_
