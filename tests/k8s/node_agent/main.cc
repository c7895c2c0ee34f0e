// shuffle-node-agent: plays the kubelet of fake nodes against a real API server (see
// node_agent.h). Runs until SIGTERM or SIGINT, then kills every process it started.
//
//   shuffle-node-agent --kubeconfig=K --root=DIR --node=n1 [--node=n2 ...]
//                      [--image-map=IMAGE=/path/to/binary ...] [--cpu=4] [--memory=8Gi]
//   shuffle-node-agent evict --kubeconfig=K NAMESPACE/POD [MESSAGE]
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver/kube/client.h"
#include "tests/k8s/node_agent/node_agent.h"

namespace {

using shuffle::node_agent::NodeAgent;
using shuffle::node_agent::NodeAgentOptions;

constexpr char kUsage[] =
    "usage: shuffle-node-agent --kubeconfig=FILE --root=DIR --node=NAME [--node=NAME ...]\n"
    "                          [--image-map=IMAGE=/abs/binary ...] [--cpu=4] [--memory=8Gi]\n"
    "       shuffle-node-agent evict --kubeconfig=FILE NAMESPACE/POD [MESSAGE]\n"
    "Registers each node, runs the processes of pods bound to it and reports their status.\n"
    "`evict` asks the agent running a pod to evict it (through the pod annotation "
    "node-agent.shuffle.dev/evict).\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "shuffle-node-agent: %s\n", message.c_str());
  return 1;
}

bool Flag(const std::string& arg, const char* name, std::string* value) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (arg.rfind(prefix, 0) != 0) {
    return false;
  }
  *value = arg.substr(prefix.size());
  return true;
}

int Evict(const shuffle::kube::Client& client, const std::string& target,
          const std::string& message) {
  const size_t slash = target.find('/');
  if (slash == std::string::npos) {
    return Fail("evict: expected NAMESPACE/POD, got '" + target + "'");
  }
  const shuffle::kube::Json patch = {
      {"metadata",
       {{"annotations",
         {{shuffle::node_agent::kEvictAnnotation, message.empty() ? "evicted" : message}}}}}};
  absl::StatusOr<shuffle::kube::Json> r =
      client.Patch(shuffle::kube::Pods(target.substr(0, slash), target.substr(slash + 1)),
                   shuffle::kube::PatchType::kMerge, patch);
  return r.ok() ? 0 : Fail(r.status().ToString());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool evict = !args.empty() && args[0] == "evict";
  if (evict) {
    args.erase(args.begin());
  }
  std::string kubeconfig;
  std::string value;
  std::vector<std::string> nodes;
  std::vector<std::string> positional;
  NodeAgentOptions base;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (Flag(arg, "kubeconfig", &kubeconfig) || Flag(arg, "root", &base.root) ||
        Flag(arg, "cpu", &base.cpu) || Flag(arg, "memory", &base.memory)) {
      continue;
    }
    if (Flag(arg, "node", &value)) {
      nodes.push_back(value);
    } else if (Flag(arg, "image-map", &value)) {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq + 1 >= value.size() || value[eq + 1] != '/') {
        return Fail("--image-map wants IMAGE=/absolute/path, got '" + value + "'");
      }
      base.image_map[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (arg.rfind("--", 0) == 0) {
      return Fail("unknown flag '" + arg + "' (see --help)");
    } else {
      positional.push_back(arg);
    }
  }
  absl::StatusOr<shuffle::kube::Config> config =
      shuffle::kube::LoadKubeconfig({.path = kubeconfig, .context = ""});
  if (!config.ok()) {
    return Fail(config.status().ToString());
  }
  absl::StatusOr<std::unique_ptr<shuffle::kube::Client>> client =
      shuffle::kube::Client::Open(*config);
  if (!client.ok()) {
    return Fail(client.status().ToString());
  }
  if (evict) {
    if (positional.empty()) {
      return Fail("evict: which pod? (NAMESPACE/POD)");
    }
    return Evict(**client, positional[0], positional.size() > 1 ? positional[1] : "");
  }
  if (nodes.empty() || base.root.empty() || !positional.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  std::vector<std::unique_ptr<NodeAgent>> agents;
  for (const std::string& node : nodes) {
    NodeAgentOptions options = base;
    options.node = node;
    absl::StatusOr<std::unique_ptr<NodeAgent>> agent = NodeAgent::Start(client->get(), options);
    if (!agent.ok()) {
      return Fail(absl::StrCat("node ", node, ": ", agent.status().ToString()));
    }
    agents.push_back(std::move(*agent));
  }
  std::fprintf(stderr, "shuffle-node-agent: playing the kubelet of %zu node(s)\n", agents.size());
  int signal = 0;
  sigwait(&signals, &signal);
  agents.clear();  // stops them: every process they started is killed
  return 0;
}
