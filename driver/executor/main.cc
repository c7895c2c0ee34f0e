// shuffle-executor: one executor process. Started by the executor pod manager (a local process,
// or the container of an executor pod); registers with the driver and runs its tasks, pushing map
// output to the node-local shuffle server found from the environment (SHUFFLE_SERVER_SOCKET,
// SHUFFLE_SERVER_ADDRESS or SHUFFLE_NODE_IP). Exit codes: 0 when the driver ends it, 1 on an
// error (driver unreachable, refused registration), 2 on a usage error.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "driver/executor/executor.h"
#include "shuffle/core/logging.h"

namespace {

constexpr char kUsage[] = R"(Usage: shuffle-executor --driver=HOST:PORT --executor-id=ID [flags]

Runs the tasks a shuffle driver assigns, with the shuffle client library.

Flags:
  --driver=HOST:PORT     the driver's gRPC address (required)
  --executor-id=ID       this executor's id, given by the pod manager (required)
  --node=NAME            the node it runs on (default: $NODE_NAME, else the host name)
  --slots=N              tasks run at once (default 1)
  --driver-timeout-seconds=N
                         exit when the driver stays unreachable this long (default 30)
  --help                 this page

Environment:
  SHUFFLE_JOB_SECRET     the job secret the driver expects (set by the pod manager)
  SHUFFLE_SERVER_SOCKET, SHUFFLE_SERVER_ADDRESS, SHUFFLE_NODE_IP
                         where the node-local shuffle server is
)";

bool Flag(std::string_view arg, std::string_view name, std::string* value) {
  if (arg.substr(0, name.size()) != name || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 1));
  return true;
}

int Usage(const std::string& error) {
  std::cerr << "shuffle-executor: " << error << "\n(see shuffle-executor --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  shuffle::executor::ExecutorOptions options;
  std::string value;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (Flag(arg, "--driver", &value)) {
      options.driver_address = value;
    } else if (Flag(arg, "--executor-id", &value)) {
      options.executor_id = value;
    } else if (Flag(arg, "--node", &value)) {
      options.node = value;
    } else if (Flag(arg, "--slots", &value)) {
      if (!absl::SimpleAtoi(value, &options.slots) || options.slots == 0) {
        return Usage("--slots expects a positive number, got \"" + value + "\"");
      }
    } else if (Flag(arg, "--driver-timeout-seconds", &value)) {
      int64_t seconds = 0;
      if (!absl::SimpleAtoi(value, &seconds) || seconds <= 0) {
        return Usage("--driver-timeout-seconds expects a positive number, got \"" + value + "\"");
      }
      options.driver_timeout = std::chrono::seconds(seconds);
    } else {
      return Usage("unknown flag or missing value: " + std::string(arg));
    }
  }
  if (options.driver_address.empty() || options.executor_id.empty()) {
    return Usage("--driver and --executor-id are required");
  }
  if (options.node.empty()) {
    const char* node = std::getenv("NODE_NAME");
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options.node = node != nullptr ? node : host;
  }
  if (const char* secret = std::getenv("SHUFFLE_JOB_SECRET")) {
    options.secret = secret;
  }
  auto executor = shuffle::executor::Executor::Register(options);
  if (!executor.ok()) {
    SHUFFLE_LOG(ERROR) << "cannot start the executor"
                       << shuffle::core::Kv("error", executor.status().ToString());
    return 1;
  }
  absl::Status st = (*executor)->Run();
  if (!st.ok()) {
    SHUFFLE_LOG(ERROR) << "executor stopped" << shuffle::core::Kv("error", st.ToString());
    return 1;
  }
  SHUFFLE_LOG(INFO) << "executor finished" << shuffle::core::Kv("executor", options.executor_id);
  return 0;
}
