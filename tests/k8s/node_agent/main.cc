// shuffle-node-agent: plays the kubelet of fake nodes against a real API server (see
// node_agent.h). Runs until SIGTERM or SIGINT, then kills every process it started.
//
//   shuffle-node-agent --kubeconfig=K --root=DIR --node=n1 [--node=n2 ...]
//                      [--image-map=IMAGE=/path/to/binary ...] [--host-ip=NODE=IP ...]
//                      [--pod-ips=NODE=A.B.C ...] [--cpu=4] [--memory=8Gi]
//   shuffle-node-agent evict --kubeconfig=K NAMESPACE/POD [MESSAGE]
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver/kube/client.h"
#include "shuffle/core/flags.h"
#include "tests/k8s/node_agent/node_agent.h"

namespace {

using shuffle::node_agent::NodeAgent;
using shuffle::node_agent::NodeAgentOptions;

constexpr char kProgram[] = "shuffle-node-agent";

struct AgentCommandLine {
  std::string kubeconfig;
  std::vector<std::string> nodes;
  std::map<std::string, std::string> host_ips;         // node -> its IP
  std::map<std::string, std::string> pod_ip_prefixes;  // node -> its pods' "A.B.C"
  NodeAgentOptions base;
};

// A NODE=VALUE flag into `to`.
absl::Status NodeValue(std::string_view flag, std::string_view v,
                       std::map<std::string, std::string>* to) {
  const size_t eq = v.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 >= v.size()) {
    return shuffle::core::BadFlagValue(flag, v, "NODE=VALUE");
  }
  (*to)[std::string(v.substr(0, eq))] = std::string(v.substr(eq + 1));
  return absl::OkStatus();
}

shuffle::core::FlagTable AgentFlags(AgentCommandLine* c) {
  shuffle::core::FlagTable flags;
  flags.String("kubeconfig", "FILE", "the API server and credentials", &c->kubeconfig)
      .String("root", "DIR", "processes' directories live under DIR/NODE/", &c->base.root)
      .Add("node", "NAME", "a node to play the kubelet of; repeat for several",
           [c](std::string_view v) {
             c->nodes.emplace_back(v);
             return absl::OkStatus();
           })
      .Add("image-map", "IMAGE=/abs/binary",
           "run containers of IMAGE (or a command of that name) with this binary; repeat",
           [c](std::string_view v) {
             const size_t eq = v.find('=');
             if (eq == std::string_view::npos || eq + 1 >= v.size() || v[eq + 1] != '/') {
               return shuffle::core::BadFlagValue("image-map", v, "IMAGE=/absolute/path");
             }
             c->base.image_map[std::string(v.substr(0, eq))] = std::string(v.substr(eq + 1));
             return absl::OkStatus();
           })
      .Add("host-ip", "NODE=IP",
           "the node's address (status.hostIP, the Node's InternalIP; default 127.0.0.1); "
           "repeat per node",
           [c](std::string_view v) { return NodeValue("host-ip", v, &c->host_ips); })
      .Add("pod-ips", "NODE=A.B.C",
           "give the node's pods (not hostNetwork ones) addresses of their own, A.B.C.2 to "
           "A.B.C.254 in turn (status.podIP; loopback addresses such as 127.1.21 need no "
           "setup); default: pods have the host IP; repeat per node",
           [c](std::string_view v) { return NodeValue("pod-ips", v, &c->pod_ip_prefixes); })
      .String("cpu", "N", "the node's CPU capacity (4)", &c->base.cpu)
      .String("memory", "QUANTITY", "the node's memory capacity (8Gi)", &c->base.memory);
  return flags;
}

std::string Usage() {
  AgentCommandLine unused;
  return absl::StrCat(
      "usage: shuffle-node-agent --kubeconfig=FILE --root=DIR --node=NAME [--node=NAME ...]\n"
      "                          [--image-map=IMAGE=/abs/binary ...] [--host-ip=NODE=IP ...]\n"
      "                          [--pod-ips=NODE=A.B.C ...] [--cpu=4] [--memory=8Gi]\n"
      "       shuffle-node-agent evict --kubeconfig=FILE NAMESPACE/POD [MESSAGE]\n"
      "Registers each node, runs the processes of pods bound to it and reports their status.\n"
      "`evict` asks the agent running a pod to evict it (through the pod annotation "
      "node-agent.shuffle.dev/evict).\n\nFlags:\n",
      AgentFlags(&unused).Help());
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "shuffle-node-agent: %s\n", message.c_str());
  return 1;
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
  AgentCommandLine c;
  const shuffle::core::FlagTable flags = AgentFlags(&c);
  absl::StatusOr<shuffle::core::CommandLine> line =
      flags.Parse(std::vector<std::string>(argv + 1, argv + argc));
  if (!line.ok()) {
    return shuffle::core::ReportUsageError(kProgram, line.status());
  }
  if (line->help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  std::vector<std::string> positional = line->arguments;
  const bool evict = !positional.empty() && positional[0] == "evict";
  if (evict) {
    positional.erase(positional.begin());
    if (positional.empty() || positional.size() > 2) {
      return shuffle::core::ReportUsageError(
          kProgram, absl::InvalidArgumentError("evict: expected NAMESPACE/POD [MESSAGE]"));
    }
  } else if (c.nodes.empty() || c.base.root.empty() || !positional.empty()) {
    return shuffle::core::ReportUsageError(
        kProgram,
        absl::InvalidArgumentError(
            positional.empty() ? "--node and --root are required"
                               : absl::StrCat("unexpected argument '", positional[0], "'")));
  }
  for (const auto* per_node : {&c.host_ips, &c.pod_ip_prefixes}) {
    for (const auto& [node, value] : *per_node) {
      if (std::find(c.nodes.begin(), c.nodes.end(), node) == c.nodes.end()) {
        return shuffle::core::ReportUsageError(
            kProgram, absl::InvalidArgumentError(absl::StrCat("--host-ip/--pod-ips name node '",
                                                              node, "', which is not a --node")));
      }
    }
  }
  const std::string& kubeconfig = c.kubeconfig;
  const std::vector<std::string>& nodes = c.nodes;
  const NodeAgentOptions& base = c.base;
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
    return Evict(**client, positional[0], positional.size() > 1 ? positional[1] : "");
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
    if (const auto ip = c.host_ips.find(node); ip != c.host_ips.end()) {
      options.host_ip = ip->second;
    }
    if (const auto prefix = c.pod_ip_prefixes.find(node); prefix != c.pod_ip_prefixes.end()) {
      options.pod_ip_prefix = prefix->second;
    }
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
