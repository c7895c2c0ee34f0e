// shuffle-executor: one executor process. Started by the executor pod manager (a local process,
// or the container of an executor pod); registers with the driver and runs its tasks, pushing map
// output to the node-local shuffle server found from the environment (SHUFFLE_SERVER_SOCKET,
// SHUFFLE_SERVER_ADDRESS or SHUFFLE_NODE_IP). Exit codes: 0 when the driver ends it, 1 on an
// error (driver unreachable, refused registration), 2 on a usage error.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver/executor/executor.h"
#include "shuffle/core/flags.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::executor {
namespace {

constexpr char kProgram[] = "shuffle-executor";

core::FlagTable ExecutorFlags(ExecutorOptions* o) {
  core::FlagTable flags;
  flags.String("driver", "HOST:PORT", "the driver's gRPC address (required)", &o->driver_address)
      .String("executor-id", "ID", "this executor's id, given by the pod manager (required)",
              &o->executor_id)
      .String("node", "NAME", "the node it runs on (default: $NODE_NAME, else the host name)",
              &o->node)
      .Number<uint32_t>("slots", "N", "tasks run at once (default 1)", &o->slots, 1)
      .String("tls-ca-file", "PATH",
              "PEM CA bundle of the shuffle servers' certificates: TLS to servers reached over "
              "TCP (the node's Unix socket stays plaintext)",
              &o->client.tls_ca_file)
      .String("tls-server-name", "NAME",
              "the name the servers' certificate carries, checked instead of the address dialled "
              "(on Kubernetes the executor dials nodes' IPs)",
              &o->client.tls_server_name)
      .Add("driver-timeout-seconds", "N",
           "exit when the driver stays unreachable this long (default 30)",
           [o](std::string_view v) {
             uint64_t seconds = 0;
             SHUFFLE_RETURN_IF_ERROR(core::ParseWholeNumber(
                 "driver-timeout-seconds", v, 1, std::numeric_limits<uint32_t>::max(), &seconds));
             o->driver_timeout = std::chrono::seconds(seconds);
             return absl::OkStatus();
           });
  return flags;
}

std::string Usage() {
  ExecutorOptions unused;
  return absl::StrCat(
      "Usage: shuffle-executor --driver=HOST:PORT --executor-id=ID [flags]\n\n"
      "Runs the tasks a shuffle driver assigns, with the shuffle client library.\n\nFlags:\n",
      ExecutorFlags(&unused).Help(),
      "\nEnvironment:\n"
      "  SHUFFLE_JOB_SECRET          the job secret the driver expects (set by the pod manager)\n"
      "  SHUFFLE_SERVER_SOCKET, SHUFFLE_SERVER_ADDRESS, SHUFFLE_NODE_IP\n"
      "                              where the node-local shuffle server is\n");
}

// The options, or a usage error; nullopt after --help.
absl::StatusOr<std::optional<ExecutorOptions>> Parse(const std::vector<std::string>& args) {
  ExecutorOptions options;
  const core::FlagTable flags = ExecutorFlags(&options);
  SHUFFLE_ASSIGN_OR_RETURN(const core::CommandLine line, flags.Parse(args));
  SHUFFLE_RETURN_IF_ERROR(core::NoArguments(line));
  if (line.help) {
    return std::nullopt;
  }
  if (options.driver_address.empty() || options.executor_id.empty()) {
    return absl::InvalidArgumentError("--driver and --executor-id are required");
  }
  return options;
}

int Main(int argc, char** argv) {
  absl::StatusOr<std::optional<ExecutorOptions>> parsed =
      Parse(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
  if (!parsed.ok()) {
    return core::ReportUsageError(kProgram, parsed.status());
  }
  if (!parsed->has_value()) {
    std::cout << Usage();
    return 0;
  }
  ExecutorOptions options = **std::move(parsed);
  if (options.node.empty()) {
    const char* node = std::getenv("NODE_NAME");
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options.node = node != nullptr ? node : host;
  }
  if (const char* secret = std::getenv("SHUFFLE_JOB_SECRET")) {
    options.secret = secret;
  }
  auto executor = Executor::Register(options);
  if (!executor.ok()) {
    SHUFFLE_LOG(ERROR) << "cannot start the executor"
                       << core::Kv("error", executor.status().ToString());
    return 1;
  }
  absl::Status st = (*executor)->Run();
  if (!st.ok()) {
    SHUFFLE_LOG(ERROR) << "executor stopped" << core::Kv("error", st.ToString());
    return 1;
  }
  SHUFFLE_LOG(INFO) << "executor finished" << core::Kv("executor", options.executor_id);
  return 0;
}

}  // namespace
}  // namespace shuffle::executor

int main(int argc, char** argv) { return shuffle::executor::Main(argc, argv); }
