#include "driver/scheduler/driver_options.h"

#include <algorithm>
#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "driver/jobs/job.h"
#include "driver/scheduler/chaos.h"
#include "shuffle/core/strings.h"

namespace shuffle::driver {
namespace {

absl::Status Bad(std::string_view flag, std::string_view value, std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("--", core::ToAbsl(flag), ": expected ",
                                                 core::ToAbsl(expected), ", got \"",
                                                 core::ToAbsl(value), "\""));
}

template <typename T>
absl::Status Number(std::string_view flag, std::string_view value, T* out, T min) {
  if (!absl::SimpleAtoi(core::ToAbsl(value), out) || *out < min) {
    return Bad(flag, value, absl::StrCat("a whole number of at least ", min));
  }
  return absl::OkStatus();
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

absl::StatusOr<DriverOptions> ParseDriverOptions(const std::vector<std::string>& args) {
  DriverOptions o;
  using Setter = std::function<absl::Status(std::string_view flag, std::string_view value)>;
  const std::map<std::string, Setter, std::less<>> setters = {
      {"job",
       [&](auto flag, auto v) {
         if (v != "sort" && v != "wordcount" && v != "groupby") {
           return Bad(flag, v, "sort, wordcount or groupby");
         }
         o.job = std::string(v);
         return absl::OkStatus();
       }},
      {"size",
       [&](auto flag, auto v) {
         absl::StatusOr<uint64_t> size = ParseSize(v);
         if (!size.ok() || *size == 0) {
           return Bad(flag, v, "a size such as 1GiB or 256MiB");
         }
         o.size_bytes = *size;
         return absl::OkStatus();
       }},
      {"maps", [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.maps, 1); }},
      {"partitions", [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.partitions, 1); }},
      {"seed", [&](auto f, auto v) { return Number<uint64_t>(f, v, &o.seed, 0); }},
      {"nodes", [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.nodes, 1); }},
      {"executors", [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.executors, 1); }},
      {"slots", [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.slots, 1); }},
      {"evict-during-map",
       [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.evict_during_map, 0); }},
      {"evict-during-reduce",
       [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.evict_during_reduce, 0); }},
      {"chaos",
       [&](auto flag, auto v) {
         if (!PlanFaults(v, 0).ok()) {
           return Bad(flag, v, "KIND=N[@map|@reduce],... with KIND one of " + FaultNames());
         }
         o.chaos = std::string(v);
         return absl::OkStatus();
       }},
      {"work-dir",
       [&](auto, auto v) {
         o.work_dir = std::string(v);
         return absl::OkStatus();
       }},
      {"server-binary",
       [&](auto, auto v) {
         o.server_binary = std::string(v);
         return absl::OkStatus();
       }},
      {"executor-binary",
       [&](auto, auto v) {
         o.executor_binary = std::string(v);
         return absl::OkStatus();
       }},
      {"partition-seconds",
       [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.partition_seconds, 1); }},
      {"slow-disk-mib-per-second",
       [&](auto f, auto v) { return Number<uint32_t>(f, v, &o.slow_disk_mib_per_second, 1); }},
      {"timeout-seconds",
       [&](auto f, auto v) { return Number<uint64_t>(f, v, &o.timeout_seconds, 1); }},
      {"backend",
       [&](auto flag, auto v) {
         if (v != "local" && v != "kubernetes") {
           return Bad(flag, v, "local or kubernetes");
         }
         o.backend = std::string(v);
         return absl::OkStatus();
       }},
      {"kubeconfig",
       [&](auto, auto v) {
         o.kubeconfig = std::string(v);
         return absl::OkStatus();
       }},
      {"namespace",
       [&](auto, auto v) {
         o.namespace_name = std::string(v);
         return absl::OkStatus();
       }},
      {"server-namespace",
       [&](auto, auto v) {
         o.server_namespace = std::string(v);
         return absl::OkStatus();
       }},
      {"image",
       [&](auto, auto v) {
         o.image = std::string(v);
         return absl::OkStatus();
       }},
      {"executor-command",
       [&](auto, auto v) {
         o.executor_command = std::string(v);
         return absl::OkStatus();
       }},
      {"driver-pod",
       [&](auto, auto v) {
         o.driver_pod = std::string(v);
         return absl::OkStatus();
       }},
      {"operator-secret-file",
       [&](auto, auto v) {
         o.operator_secret_file = std::string(v);
         return absl::OkStatus();
       }},
      {"listen",
       [&](auto, auto v) {
         o.listen = std::string(v);
         return absl::OkStatus();
       }},
      {"advertise-host",
       [&](auto, auto v) {
         o.advertise_host = std::string(v);
         return absl::OkStatus();
       }},
      {"log-level",
       [&](auto, auto v) {
         o.log_level = std::string(v);
         return absl::OkStatus();
       }},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--keep-work-dir") {
      o.keep_work_dir = true;
      continue;
    }
    if (arg == "--no-progress") {
      o.progress = false;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", core::ToAbsl(arg),
                                                     "\": flags look like --name=value"));
    }
    arg.remove_prefix(2);
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    auto setter = setters.find(name);
    if (setter == setters.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", core::ToAbsl(name), " (see --help)"));
    }
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", core::ToAbsl(name), " needs a value"));
    }
    if (absl::Status st = setter->second(name, value); !st.ok()) {
      return st;
    }
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
  return R"(Usage: shuffle-driver [flags]

Runs a reference job on a local cluster: N simulated nodes on this machine, each with its own
shuffle-server (data directory, Unix socket, loopback ports), and executor processes placed on
them by the executor pod manager. Map output lives in the shuffle servers, so an evicted executor
costs only its running tasks. Prints live progress and a final report; exits 0 only when the job
succeeded and its output validated.

Job:
  --job=KIND                  sort (100-byte records, TeraSort-like), wordcount or groupby (sort)
  --size=SIZE                 input size, e.g. 1GiB, 256MiB (1GiB)
  --maps=N                    map tasks (64)
  --partitions=N              reduce partitions (32)
  --seed=N                    input generator seed (42)
Cluster:
  --nodes=N                   simulated nodes, one shuffle-server each (3)
  --executors=N               executors kept running (3)
  --slots=N                   tasks per executor at once (2)
  --work-dir=DIR              where nodes keep data and logs (a new temporary directory)
  --keep-work-dir             keep it after the job (logs: DIR/node-*/server.log,
                              DIR/executors/*.log, DIR/driver.log)
  --server-binary=PATH        shuffle-server (found beside this program)
  --executor-binary=PATH      shuffle-executor (found beside this program)
Faults:
  --evict-during-map=N        evict N executors at random instants of the map stage (0)
  --evict-during-reduce=N     evict N executors at random instants of the reduce stage (0)
  --chaos=KIND=N[@STAGE],...  inject faults at random instants (drawn from --seed); KIND:
                              evict, kill-executor, kill-server (SIGKILL, restarted),
                              restart-server (SIGTERM: drain, restarted), disk-full (the
                              server refuses writes), node-loss (server and data gone),
                              partition (the node is cut off the network for a while; each
                              node gets a network namespace, which needs root), slow-disk
                              (the node's disk is throttled; needs root and cgroup v1 blkio);
                              STAGE: map or reduce (default: either). Local backend for the
                              node faults. Example: --chaos=kill-server=2,evict=2@reduce
  --partition-seconds=N       how long a partition lasts before it heals (10)
  --slow-disk-mib-per-second=N  a slow disk's read and write throughput (8)
Kubernetes (--backend=kubernetes: executors are pods; servers are the shuffle-server DaemonSet):
  --backend=local|kubernetes  where executors run (local)
  --kubeconfig=PATH           API server credentials (in a pod: its service account)
  --namespace=NS              executor pods' namespace (the kubeconfig's, or the pod's)
  --server-namespace=NS       the DaemonSet's namespace (shuffle-system)
  --image=IMAGE               executor image (shuffle/shuffle:0.1.0)
  --executor-command=PATH     executor binary in the image (/usr/local/bin/shuffle-executor)
  --driver-pod=NAME           owner of executor pods, garbage-collected with it ($POD_NAME)
  --operator-secret-file=PATH registers the job with the servers
  --listen=HOST:PORT          the driver's gRPC service (0.0.0.0:7100; local: 127.0.0.1:0)
  --advertise-host=HOST       how executors reach the driver ($POD_IP)
Other:
  --timeout-seconds=N         fail the job after this long (3600)
  --log-level=LEVEL           debug, info, warning, error (info; written to DIR/driver.log)
  --no-progress               no live progress display
  --help                      this page
)";
}

}  // namespace shuffle::driver
