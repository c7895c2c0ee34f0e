#include "driver/cli/driver_options.h"

#include <algorithm>
#include <initializer_list>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "driver/chaos/fault_plan.h"
#include "driver/jobs/job.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::cli {
namespace {

absl::Status Bad(std::string_view flag, std::string_view value, std::string_view expected) {
  return core::BadFlagValue(flag, value, expected);
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(std::string_view text) {
  static const auto* const units = new std::map<std::string, uint64_t>({{"", 1},
                                                                        {"b", 1},
                                                                        {"k", 1ull << 10},
                                                                        {"kib", 1ull << 10},
                                                                        {"kb", 1000},
                                                                        {"m", 1ull << 20},
                                                                        {"mib", 1ull << 20},
                                                                        {"mb", 1000000},
                                                                        {"g", 1ull << 30},
                                                                        {"gib", 1ull << 30},
                                                                        {"gb", 1000000000}});
  size_t digits = 0;
  while (digits < text.size() && (absl::ascii_isdigit(text[digits]) || text[digits] == '.')) {
    ++digits;
  }
  double number = 0;
  auto unit = units->find(absl::AsciiStrToLower(core::ToAbsl(text.substr(digits))));
  if (digits == 0 || !absl::SimpleAtod(core::ToAbsl(text.substr(0, digits)), &number) ||
      unit == units->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", core::ToAbsl(text), "\" is not a size such as 1GiB or 256MiB"));
  }
  return static_cast<uint64_t>(number * static_cast<double>(unit->second));
}

namespace {

// Sets `*out` to `v` when it is one of `allowed`.
absl::Status OneOf(std::string_view flag, std::string_view v,
                   std::initializer_list<std::string_view> allowed, std::string_view expected,
                   std::string* out) {
  for (std::string_view a : allowed) {
    if (v == a) {
      *out = std::string(v);
      return absl::OkStatus();
    }
  }
  return Bad(flag, v, expected);
}

void AddJobFlags(DriverOptions* o, core::FlagTable& t) {
  t.Section("Job")
      .Add("job", "KIND", "sort (100-byte records, TeraSort-like), wordcount or groupby (sort)",
           [o](std::string_view v) {
             return OneOf("job", v, {"sort", "wordcount", "groupby"}, "sort, wordcount or groupby",
                          &o->job);
           })
      .Add("size", "SIZE", "input size, e.g. 1GiB, 256MiB (1GiB)",
           [o](std::string_view v) {
             absl::StatusOr<uint64_t> size = ParseSize(v);
             if (!size.ok() || *size == 0) {
               return Bad("size", v, "a size such as 1GiB or 256MiB");
             }
             o->size_bytes = *size;
             return absl::OkStatus();
           })
      .Number<uint32_t>("maps", "N", "map tasks (64)", &o->maps, 1)
      .Number<uint32_t>("partitions", "N", "reduce partitions (32)", &o->partitions, 1)
      .Number<uint64_t>("seed", "N", "input generator seed (42)", &o->seed)
      .Number<uint32_t>("replicas", "N",
                        "copies of each map output on different nodes' servers, 1 or 2 (1); with "
                        "2 a map's commit waits for both, and a lost server's outputs are read "
                        "from their replicas instead of being recomputed",
                        &o->replicas, 1, 2)
      .Add("adopt-lost-nodes", "yes|no",
           "when a node's server is lost, ask a serving server to adopt its data directory from "
           "the shared volume they mount (servers with --adopt-root; the local backend's nodes "
           "share one) so its map outputs are read there instead of recomputed (yes)",
           [o](std::string_view v) {
             if (v != "yes" && v != "no") {
               return Bad("adopt-lost-nodes", v, "yes or no");
             }
             o->adopt_lost_nodes = v == "yes";
             return absl::OkStatus();
           });
}

void AddClusterFlags(DriverOptions* o, core::FlagTable& t) {
  t.Section("Cluster")
      .Number<uint32_t>("nodes", "N", "simulated nodes, one shuffle-server each (3)", &o->nodes, 1)
      .Number<uint32_t>("executors", "N", "executors kept running (3)", &o->executors, 1)
      .Number<uint32_t>("slots", "N", "tasks per executor at once (2)", &o->slots, 1)
      .String("work-dir", "DIR", "where nodes keep data and logs (a new temporary directory)",
              &o->work_dir)
      .Switch("keep-work-dir",
              "keep it after the job (logs: DIR/node-*/server.log, DIR/executors/*.log, "
              "DIR/driver.log)",
              [o] { o->keep_work_dir = true; })
      .String("server-binary", "PATH", "shuffle-server (found beside this program)",
              &o->server_binary)
      .String("executor-binary", "PATH", "shuffle-executor (found beside this program)",
              &o->executor_binary);
}

void AddTlsFlags(DriverOptions* o, core::FlagTable& t) {
  t.Section("TLS")
      .String("tls-cert-file", "PATH",
              "local backend: PEM certificate of every node's shuffle-server: TLS on their data "
              "and control planes and /metrics; it must name 127.0.0.1 (needs --tls-key-file, "
              "--tls-ca-file). On Kubernetes the DaemonSet has its own (deploy/overlays/tls)",
              &o->tls_cert_file)
      .String("tls-key-file", "PATH", "the private key of --tls-cert-file", &o->tls_key_file)
      .String("tls-ca-file", "PATH",
              "PEM CA bundle the driver, the executors and the servers' hand-overs check the "
              "servers' certificates with",
              &o->tls_ca_file)
      .String(
          "tls-server-name", "NAME",
          "the name the servers' certificate carries, checked instead of the address dialled "
          "(Kubernetes: shuffle-server.<server-namespace>.svc, as deploy/overlays/tls issues it)",
          &o->tls_server_name)
      .String("tls-ca-secret", "NAME",
              "Kubernetes: the Secret in the executors' namespace whose key ca.crt executor pods "
              "mount as their CA (only that key); needed with --tls-ca-file",
              &o->tls_ca_secret);
}

void AddFaultFlags(DriverOptions* o, core::FlagTable& t) {
  t.Section("Faults")
      .Number<uint32_t>("evict-during-map", "N",
                        "evict N executors at random instants of the map stage (0)",
                        &o->evict_during_map)
      .Number<uint32_t>("evict-during-reduce", "N",
                        "evict N executors at random instants of the reduce stage (0)",
                        &o->evict_during_reduce)
      .Add("chaos", "KIND=N[@STAGE],...",
           "inject faults at random instants (drawn from --seed); KIND: evict, kill-executor, "
           "kill-server (SIGKILL, restarted), restart-server (SIGTERM: drain, restarted), "
           "disk-full (the server refuses writes), node-loss (server and data gone), node-drain "
           "(the node's server hands its map outputs over to the other nodes, then the node is "
           "gone: docs/node-loss.md), node-crash (server gone at once, its data left on the "
           "shared volume for another server to adopt), partition "
           "(the node is cut off the network for a while; each node gets a network namespace, "
           "which needs root), slow-disk (the node's disk is throttled; needs root and cgroup v1 "
           "blkio); STAGE: map or reduce (default: either). Local backend for the node faults. "
           "Example: --chaos=kill-server=2,evict=2@reduce",
           [o](std::string_view v) {
             if (!chaos::PlanFaults(v, 0).ok()) {
               return Bad("chaos", v,
                          "KIND=N[@map|@reduce],... with KIND one of " + chaos::FaultNames());
             }
             o->chaos = std::string(v);
             return absl::OkStatus();
           })
      .Number<uint32_t>("partition-seconds", "N", "how long a partition lasts before it heals (10)",
                        &o->partition_seconds, 1)
      .Number<uint32_t>("slow-disk-mib-per-second", "N",
                        "a slow disk's read and write throughput (8)", &o->slow_disk_mib_per_second,
                        1);
}

void AddKubernetesFlags(DriverOptions* o, core::FlagTable& t) {
  t.Section(
       "Kubernetes (--backend=kubernetes: executors are pods; servers are the shuffle-server "
       "DaemonSet)")
      .Add(
          "backend", "local|kubernetes", "where executors run (local)",
          [o](std::string_view v) {
            return OneOf("backend", v, {"local", "kubernetes"}, "local or kubernetes", &o->backend);
          })
      .String("kubeconfig", "PATH", "API server credentials (in a pod: its service account)",
              &o->kubeconfig)
      .String("namespace", "NS", "executor pods' namespace (the kubeconfig's, or the pod's)",
              &o->namespace_name)
      .String("server-namespace", "NS", "the DaemonSet's namespace (shuffle-system)",
              &o->server_namespace)
      .String("image", "IMAGE", "executor image (shuffle/shuffle:0.1.0)", &o->image)
      .String("executor-command", "PATH",
              "executor binary in the image (/usr/local/bin/shuffle-executor)",
              &o->executor_command)
      .String("driver-pod", "NAME", "owner of executor pods, garbage-collected with it ($POD_NAME)",
              &o->driver_pod)
      .String("operator-secret-file", "PATH",
              "registers the job with the servers (Kubernetes without it: the service-account "
              "token, for servers with --token-review)",
              &o->operator_secret_file)
      .String("listen", "HOST:PORT", "the driver's gRPC service (0.0.0.0:7100; local: 127.0.0.1:0)",
              &o->listen)
      .String("advertise-host", "HOST", "how executors reach the driver ($POD_IP)",
              &o->advertise_host);
}

void AddOtherFlags(DriverOptions* o, core::FlagTable& t) {
  t.Section("Other")
      .Number<uint64_t>("timeout-seconds", "N", "fail the job after this long (3600)",
                        &o->timeout_seconds, 1)
      .Add("log-level", "LEVEL", "debug, info, warning, error (info; written to DIR/driver.log)",
           [o](std::string_view v) {
             absl::Status st = core::ParseLogLevel(v).status();
             o->log_level = std::string(v);
             return st.ok() ? st : core::Annotate(st, "--log-level");
           })
      .Switch("no-progress", "no live progress display", [o] { o->progress = false; });
}

}  // namespace

core::FlagTable DriverFlags(DriverOptions* options) {
  core::FlagTable flags;
  AddJobFlags(options, flags);
  AddClusterFlags(options, flags);
  AddTlsFlags(options, flags);
  AddFaultFlags(options, flags);
  AddKubernetesFlags(options, flags);
  AddOtherFlags(options, flags);
  return flags;
}

absl::StatusOr<DriverOptions> ParseDriverOptions(const std::vector<std::string>& args) {
  DriverOptions o;
  const core::FlagTable flags = DriverFlags(&o);
  SHUFFLE_ASSIGN_OR_RETURN(const core::CommandLine line, flags.Parse(args));
  SHUFFLE_RETURN_IF_ERROR(core::NoArguments(line));
  o.help = line.help;
  if (o.help) {
    return o;
  }
  const bool server_tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (server_tls && (o.tls_cert_file.empty() || o.tls_key_file.empty() || o.tls_ca_file.empty())) {
    return absl::InvalidArgumentError(
        "--tls-cert-file, --tls-key-file and --tls-ca-file go together: the servers' certificate "
        "and key, and the CA that the driver and the executors check them with");
  }
  if (o.backend == "kubernetes") {
    if (server_tls) {
      return absl::InvalidArgumentError(
          "--tls-cert-file and --tls-key-file are for the local backend: on Kubernetes the "
          "DaemonSet's servers take their certificate from deploy/overlays/tls");
    }
    if (o.tls_ca_file.empty() != o.tls_ca_secret.empty()) {
      return absl::InvalidArgumentError(
          "--tls-ca-file and --tls-ca-secret go together on Kubernetes: the CA file the driver "
          "checks the servers with, and the Secret (key ca.crt) its executor pods mount");
    }
    if (!o.tls_ca_file.empty() && o.tls_server_name.empty()) {
      o.tls_server_name = "shuffle-server." + o.server_namespace + ".svc";
    }
  } else if (!o.tls_ca_secret.empty()) {
    return absl::InvalidArgumentError(
        "--tls-ca-secret is for the Kubernetes backend (local executors read --tls-ca-file)");
  }
  return o;
}

proto::JobSpec MakeJobSpec(const DriverOptions& options) {
  const uint64_t record_bytes = options.job == "sort" ? 100 : 16;
  const uint64_t per_record_and_map = record_bytes * options.maps;
  const uint64_t per_map =
      std::max<uint64_t>(1, (options.size_bytes + per_record_and_map - 1) / per_record_and_map);
  return jobs::Job::MakeSpec(options.job, options.seed, options.maps, options.partitions, per_map);
}

std::string DriverUsage() {
  DriverOptions unused;
  constexpr std::string_view kAbout = R"(Usage: shuffle-driver [flags]

Runs a reference job on a local cluster: N simulated nodes on this machine, each with its
own shuffle-server (data directory, Unix socket, loopback ports), and executor processes
placed on them by the executor pod manager. Map output lives in the shuffle servers, so an
evicted executor costs only its running tasks. Prints live progress and a final report;
exits 0 only when the job succeeded and its output validated.

)";
  return absl::StrCat(core::ToAbsl(kAbout), DriverFlags(&unused).Help());
}

}  // namespace shuffle::cli
