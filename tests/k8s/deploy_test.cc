// deploy/ against a real control plane: every manifest of the base, and the RWX-PVC,
// token-review and TLS overlays' patches, are accepted by the API server (server-side apply, which
// validates them), and the real DaemonSet controller places one shuffle-server pod on each of
// three fake nodes, where the node agents run them with their ConfigMap and Secret volumes. Spark's
// executor pod template (deploy/spark/) is accepted as a Pod.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shuffle-server/server_options.h"
#include "tests/k8s/node_agent/node_agent.h"
#include "tests/k8s/testenv.h"
#include "tools/shufflectl/options.h"
#include "yaml-cpp/yaml.h"

namespace shuffle::k8stest {
namespace {

using kube::Json;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The API path of a manifest, from its kind, name and namespace.
kube::ResourcePath PathOf(const YAML::Node& doc) {
  static const auto* const kinds = new std::map<std::string, std::pair<std::string, std::string>>{
      {"Namespace", {"api/v1", "namespaces"}},
      {"Pod", {"api/v1", "pods"}},
      {"ServiceAccount", {"api/v1", "serviceaccounts"}},
      {"Secret", {"api/v1", "secrets"}},
      {"ConfigMap", {"api/v1", "configmaps"}},
      {"PersistentVolumeClaim", {"api/v1", "persistentvolumeclaims"}},
      {"DaemonSet", {"apis/apps/v1", "daemonsets"}},
      {"ClusterRole", {"apis/rbac.authorization.k8s.io/v1", "clusterroles"}},
      {"ClusterRoleBinding", {"apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"}},
      {"Role", {"apis/rbac.authorization.k8s.io/v1", "roles"}},
      {"RoleBinding", {"apis/rbac.authorization.k8s.io/v1", "rolebindings"}}};
  const std::string kind = doc["kind"].as<std::string>();
  auto it = kinds->find(kind);
  EXPECT_NE(it, kinds->end()) << "no API path known for kind " << kind;
  kube::ResourcePath path;
  if (it != kinds->end()) {
    path.api = it->second.first;
    path.resource = it->second.second;
  }
  path.name = doc["metadata"]["name"].as<std::string>();
  if (doc["metadata"]["namespace"]) {
    path.ns = doc["metadata"]["namespace"].as<std::string>();
  }
  return path;
}

// YAML to JSON for a patch: maps, lists, null, booleans, integers and strings.
Json ToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    Json out = Json::object();
    for (const auto& entry : node) {
      out[entry.first.as<std::string>()] = ToJson(entry.second);
    }
    return out;
  }
  if (node.IsSequence()) {
    Json out = Json::array();
    for (const auto& item : node) {
      out.push_back(ToJson(item));
    }
    return out;
  }
  if (node.IsNull()) {
    return nullptr;
  }
  const std::string text = node.as<std::string>();
  if (node.Tag() != "?") {
    return text;  // quoted: a string whatever it looks like
  }
  // Plain scalars resolve as kubectl's YAML 1.1 reader does: booleans, and integers (a leading
  // 0 is octal, as in file modes such as defaultMode: 0400).
  if (text == "true" || text == "false") {
    return text == "true";
  }
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoll(text, nullptr, text.size() > 1 && text[0] == '0' ? 8 : 10);
  }
  return text;
}

// Whether something accepts TCP connections at host:port.
bool Connects(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Applies every document of a YAML file, after `edit`; the number applied.
int ApplyFile(const kube::Client& client, const std::string& file,
              const std::function<std::string(std::string)>& edit = nullptr) {
  int applied = 0;
  const std::string text = edit ? edit(Slurp(file)) : Slurp(file);
  for (absl::string_view part : absl::StrSplit(text, "\n---\n")) {
    const std::string doc(part);
    YAML::Node node = YAML::Load(doc);
    if (!node || !node["kind"]) {
      continue;
    }
    absl::StatusOr<Json> result =
        client.Apply(PathOf(node), doc, {.field_manager = "deploy-test", .force = true});
    EXPECT_TRUE(result.ok()) << file << ": " << node["kind"].as<std::string>() << " "
                             << node["metadata"]["name"].as<std::string>() << ": "
                             << result.status();
    applied += result.ok() ? 1 : 0;
  }
  return applied;
}

TEST(DeployTest, ManifestsAreAcceptedAndTheDaemonSetRunsOnEveryNode) {
  absl::StatusOr<std::unique_ptr<KubeTestEnv>> env = KubeTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  const kube::Client& admin = (*env)->admin();
  std::vector<std::unique_ptr<node_agent::NodeAgent>> agents;
  int ip = 21;
  for (const char* name : {"n1", "n2", "n3"}) {
    node_agent::NodeAgentOptions options;
    options.node = name;
    options.root = (*env)->dir() + "/nodes";
    options.host_ip = "127.0.0." + std::to_string(ip++);
    options.image_map["shuffle/shuffle:0.1.0"] = SHUFFLE_SERVER_BINARY;
    absl::StatusOr<std::unique_ptr<node_agent::NodeAgent>> agent =
        node_agent::NodeAgent::Start(&admin, options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agents.push_back(*std::move(agent));
  }
  const std::string base = std::string(SHUFFLE_SOURCE_DIR) + "/deploy/base/";
  int applied = 0;
  for (const char* file :
       {"namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "secret.yaml", "configmap.yaml"}) {
    applied += ApplyFile(admin, base + file);
  }
  // The one change for this machine: its fake nodes share one network namespace, so each server
  // listens on its node's IP instead of 0.0.0.0 (a real node has its own).
  applied += ApplyFile(admin, base + "daemonset.yaml", [](std::string text) {
    for (const char* port : {"7340", "7337", "7338", "7339"}) {
      const std::string from = std::string("0.0.0.0:") + port;
      text.replace(text.find(from), from.size(), std::string("$(HOST_IP):") + port);
    }
    return text;
  });
  EXPECT_EQ(applied, 14);

  // The DaemonSet controller places one pod per node.
  std::map<std::string, int> per_node;
  EXPECT_TRUE(Eventually(
      [&] {
        kube::ListOptions list;
        list.label_selector = "app.kubernetes.io/component=server";
        absl::StatusOr<kube::ListResult> pods = admin.List(kube::Pods("shuffle-system"), list);
        per_node.clear();
        for (const Json& pod : pods.ok() ? pods->items : std::vector<Json>{}) {
          ++per_node[pod["spec"].value("nodeName", "")];
        }
        return per_node.size() == 3 && per_node.count("") == 0;
      },
      absl::Seconds(60)));
  EXPECT_THAT(per_node, ::testing::ElementsAre(::testing::Pair("n1", 1), ::testing::Pair("n2", 1),
                                               ::testing::Pair("n3", 1)));
  // The node agents run them: each node's server serves its data and control planes, with the
  // configuration file from the ConfigMap and the secrets from the Secret.
  for (const char* host : {"127.0.0.21", "127.0.0.22", "127.0.0.23"}) {
    EXPECT_TRUE(Eventually(
        [&] { return Connects(host, 7340) && Connects(host, 7337) && Connects(host, 7338); },
        absl::Seconds(60)))
        << "no shuffle-server on " << host;
  }

  // The RWX overlay: its claim, and its DaemonSet patches (the data volume becomes the claim,
  // mounted whole; each server in its node's directory, adopting lost nodes' from the volume)
  // merged and validated by the API server.
  EXPECT_EQ(ApplyFile(admin, std::string(SHUFFLE_SOURCE_DIR) + "/deploy/overlays/rwx-pvc/pvc.yaml"),
            1);
  YAML::Node patch = YAML::LoadFile(std::string(SHUFFLE_SOURCE_DIR) +
                                    "/deploy/overlays/rwx-pvc/daemonset-data.yaml");
  absl::StatusOr<Json> patched = admin.Patch(kube::DaemonSets("shuffle-system", "shuffle-server"),
                                             kube::PatchType::kStrategicMerge, ToJson(patch));
  ASSERT_TRUE(patched.ok()) << patched.status();
  const Json& spec = (*patched)["spec"]["template"]["spec"];
  bool claim = false;
  for (const Json& v : spec["volumes"]) {
    if (v["name"] == "data") {
      claim = v.contains("persistentVolumeClaim") && !v.contains("hostPath");
    }
  }
  EXPECT_TRUE(claim) << spec["volumes"].dump();
  YAML::Node adoption = YAML::LoadFile(std::string(SHUFFLE_SOURCE_DIR) +
                                       "/deploy/overlays/rwx-pvc/daemonset-adoption.yaml");
  absl::StatusOr<Json> adopting = admin.Patch(kube::DaemonSets("shuffle-system", "shuffle-server"),
                                              kube::PatchType::kJson, ToJson(adoption));
  ASSERT_TRUE(adopting.ok()) << adopting.status();
  const Json& server = (*adopting)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_THAT(server["args"].dump(),
              ::testing::AllOf(::testing::HasSubstr("--data-dir=/var/lib/shuffle/$(NODE_NAME)"),
                               ::testing::HasSubstr("--adopt-root=/var/lib/shuffle"),
                               ::testing::HasSubstr("--adopt-advertise-host=$(POD_IP)")));
  EXPECT_THAT(server["env"].dump(), ::testing::HasSubstr("status.podIP"));
  // The flags as the server parses them, the variables expanded as the kubelet would.
  std::vector<std::string> flags;
  for (const Json& arg : server["args"]) {
    std::string a = arg.get<std::string>();
    a = absl::StrReplaceAll(
        a, {{"$(NODE_NAME)", "node-a"}, {"$(POD_IP)", "10.1.0.5"}, {"$(HOST_IP)", "10.0.0.5"}});
    if (!absl::StartsWith(a, "--config=")) {
      flags.push_back(a);
    }
  }
  absl::StatusOr<server::ServerOptions> parsed =
      server::ParseServerOptions(flags, server::ProcessEnv, "node-a");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->adopt_root, "/var/lib/shuffle");
  EXPECT_THAT(parsed->data_dirs, ::testing::ElementsAre("/var/lib/shuffle/node-a"));

  // The token-review overlay: its JSON patch adds --token-review to the server's arguments.
  YAML::Node review = YAML::LoadFile(std::string(SHUFFLE_SOURCE_DIR) +
                                     "/deploy/overlays/token-review/daemonset-token-review.yaml");
  absl::StatusOr<Json> reviewing = admin.Patch(kube::DaemonSets("shuffle-system", "shuffle-server"),
                                               kube::PatchType::kJson, ToJson(review));
  ASSERT_TRUE(reviewing.ok()) << reviewing.status();
  const Json& args = (*reviewing)["spec"]["template"]["spec"]["containers"][0]["args"];
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args.back(), "--token-review") << args.dump();

  // The TLS overlay: its JSON patch mounts the shuffle-tls Secret and points the flags at it.
  YAML::Node tls =
      YAML::LoadFile(std::string(SHUFFLE_SOURCE_DIR) + "/deploy/overlays/tls/daemonset-tls.yaml");
  absl::StatusOr<Json> secured = admin.Patch(kube::DaemonSets("shuffle-system", "shuffle-server"),
                                             kube::PatchType::kJson, ToJson(tls));
  ASSERT_TRUE(secured.ok()) << secured.status();
  const Json& pod = (*secured)["spec"]["template"]["spec"];
  EXPECT_THAT(pod["containers"][0]["args"].dump(),
              ::testing::HasSubstr("--tls-cert-file=/etc/shuffle/tls/tls.crt"));
  EXPECT_THAT(pod["containers"][0]["volumeMounts"].dump(),
              ::testing::HasSubstr("/etc/shuffle/tls"));
  EXPECT_THAT(pod["volumes"].dump(), ::testing::HasSubstr("shuffle-tls"));
  EXPECT_EQ((*secured)["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scheme"],
            "https");
  // The probes' shufflectl commands, as the API server kept them, parse as shufflectl's own
  // command line and talk TLS with the mounted CA.
  for (const char* probe : {"readinessProbe", "livenessProbe"}) {
    const Json& command = pod["containers"][0][probe]["exec"]["command"];
    ASSERT_TRUE(command.is_array()) << probe;
    std::vector<std::string> args;
    for (size_t i = 1; i < command.size(); ++i) {
      args.push_back(command[i].get<std::string>());
    }
    absl::StatusOr<shufflectl::CtlOptions> parsed = shufflectl::ParseCtlOptions(args);
    ASSERT_TRUE(parsed.ok()) << probe << ": " << parsed.status();
    EXPECT_EQ(parsed->tls.ca_file, "/etc/shuffle/tls/ca.crt") << probe;
    EXPECT_EQ(parsed->command, shufflectl::Command::kHealth) << probe;
  }
}

// Spark's executor pod template, completed with what Spark fills in (namespace, image) and bound
// to a node that does not exist (so that neither the scheduler nor a node agent runs it), is a
// Pod the API server accepts, with the socket's hostPath and the downward API's host IP intact.
TEST(DeployTest, SparkExecutorPodTemplateIsAValidPod) {
  absl::StatusOr<std::unique_ptr<KubeTestEnv>> env = KubeTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  const kube::Client& admin = (*env)->admin();
  const std::string file =
      std::string(SHUFFLE_SOURCE_DIR) + "/deploy/spark/executor-pod-template.yaml";
  EXPECT_EQ(
      ApplyFile(admin, file,
                [](std::string text) {
                  auto insert_after = [&text](const std::string& at, const std::string& what) {
                    const size_t pos = text.find(at);
                    EXPECT_NE(pos, std::string::npos) << at;
                    if (pos != std::string::npos) {
                      text.insert(pos + at.size(), what);
                    }
                  };
                  insert_after("  name: spark-executor-template\n", "  namespace: default\n");
                  insert_after("\nspec:\n", "  nodeName: no-such-node\n");
                  insert_after("    - name: spark-executor\n", "      image: apache/spark:4.1.1\n");
                  return text;
                }),
      1);
  absl::StatusOr<Json> pod = admin.Get(kube::Pods("default", "spark-executor-template"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  const Json& spec = (*pod)["spec"];
  EXPECT_EQ(spec["volumes"][0]["hostPath"]["path"], "/run/shuffle");
  EXPECT_EQ(spec["containers"][0]["volumeMounts"][0]["mountPath"], "/run/shuffle");
  EXPECT_THAT(spec["containers"][0]["env"].dump(), ::testing::HasSubstr("status.hostIP"));
  EXPECT_THAT(spec["containers"][0]["env"].dump(), ::testing::HasSubstr("/run/shuffle/data.sock"));
}

}  // namespace
}  // namespace shuffle::k8stest
