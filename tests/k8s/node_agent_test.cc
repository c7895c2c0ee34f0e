// The node agent against a real control plane: DaemonSet placement by the real DaemonSet
// controller and scheduler, exit codes, restarts, graceful deletion, eviction and garbage
// collection by the real controller manager.
#include "tests/k8s/node_agent/node_agent.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "driver/kube/client.h"
#include "shuffle/core/process.h"
#include "shuffle/core/ready_file.h"
#include "tests/k8s/kube_suite.h"

namespace shuffle::node_agent {
namespace {

using k8stest::Eventually;
using kube::Json;

constexpr char kSleepImage[] = "test/sleep";
constexpr char kServerImage[] = "shuffle/server:test";

class NodeAgentTest : public k8stest::KubeSuite {
 protected:
  static void SetUpTestSuite() {
    KubeSuite::SetUpTestSuite();
    if (suite_error != nullptr) {
      return;
    }
    suite_agents = new std::map<std::string, std::unique_ptr<NodeAgent>>();
    for (const char* node : {"n1", "n2", "n3"}) {
      NodeAgentOptions options;
      options.node = node;
      options.root = suite_env->dir() + "/nodes";
      options.image_map[kSleepImage] = "/bin/sleep";
      options.image_map[kServerImage] = SHUFFLE_SERVER_BINARY;
      absl::StatusOr<std::unique_ptr<NodeAgent>> agent =
          NodeAgent::Start(&suite_env->admin(), options);
      if (!agent.ok()) {
        suite_error = new absl::Status(agent.status());
        return;
      }
      (*suite_agents)[node] = std::move(*agent);
    }
  }
  static void TearDownTestSuite() {
    delete suite_agents;  // kills every process the agents started
    suite_agents = nullptr;
    KubeSuite::TearDownTestSuite();
  }

  static Json Pod(const std::string& name, const std::vector<std::string>& command,
                  const std::string& restart_policy) {
    return Json{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}}},
                {"spec",
                 {{"restartPolicy", restart_policy},
                  {"terminationGracePeriodSeconds", 5},
                  {"containers", {{{"name", "main"}, {"image", "none"}, {"command", command}}}}}}};
  }
  // Waits until the pod satisfies `done`; the last version seen.
  Json WaitPod(const std::string& name, const std::function<bool(const Json&)>& done,
               absl::Duration timeout = absl::Seconds(60)) {
    Json last;
    const bool ok = Eventually(
        [&] {
          absl::StatusOr<Json> pod = admin().Get(kube::Pods(ns_, name));
          if (pod.ok()) {
            last = *pod;
          }
          return pod.ok() && done(*pod);
        },
        timeout);
    EXPECT_TRUE(ok) << "pod " << name << " never got there; last: " << last.dump(1);
    return last;
  }
  static bool Running(const Json& pod) { return pod["status"].value("phase", "") == "Running"; }
  NodeAgent& AgentOf(const Json& pod) {
    return *suite_agents->at(pod["spec"]["nodeName"].get<std::string>());
  }

  static inline std::map<std::string, std::unique_ptr<NodeAgent>>* suite_agents = nullptr;
};

TEST_F(NodeAgentTest, DaemonSetRunsOnePodPerNode) {
  const Json ds = {{"apiVersion", "apps/v1"},
                   {"kind", "DaemonSet"},
                   {"metadata", {{"name", "sleeper"}}},
                   {"spec",
                    {{"selector", {{"matchLabels", {{"app", "sleeper"}}}}},
                     {"template",
                      {{"metadata", {{"labels", {{"app", "sleeper"}}}}},
                       {"spec",
                        {{"terminationGracePeriodSeconds", 1},
                         {"containers",
                          {{{"name", "sleep"}, {"image", kSleepImage}, {"args", {"3600"}}}}}}}}}}}};
  ASSERT_TRUE(admin().Create(kube::DaemonSets(ns_), ds).ok());
  std::vector<Json> pods;
  const bool placed = Eventually(
      [&] {
        absl::StatusOr<kube::ListResult> list =
            admin().List(kube::Pods(ns_), {.label_selector = "app=sleeper",
                                           .field_selector = "",
                                           .resource_version = "",
                                           .limit = 0});
        if (!list.ok()) {
          return false;
        }
        pods = list->items;
        int running = 0;
        for (const Json& p : pods) {
          running += Running(p) ? 1 : 0;
        }
        return pods.size() == 3 && running == 3;
      },
      absl::Seconds(90));
  ASSERT_TRUE(placed) << pods.size() << " pods: " << Json(pods).dump(1);
  std::set<std::string> nodes;
  for (const Json& p : pods) {
    nodes.insert(p["spec"]["nodeName"].get<std::string>());
    EXPECT_EQ(p["status"]["podIP"], "127.0.0.1");
    EXPECT_EQ(p["status"]["containerStatuses"][0]["ready"], true);
    EXPECT_GT(AgentOf(p).PidOf(ns_, p["metadata"]["name"].get<std::string>(), "sleep"), 0);
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"}));
}

// The product's own DaemonSet shape: shuffle-server on every node with its data and socket on
// a hostPath, node name and pod IP from the downward API, all paths rewritten to each node's
// real directories.
TEST_F(NodeAgentTest, ShuffleServerDaemonSetRunsOnEveryNode) {
  const Json container = {
      {"name", "server"},
      {"image", kServerImage},
      {"args",
       {"--data-dir=/var/lib/shuffle/data", "--socket=/run/shuffle/data.sock",
        "--ready-file=/run/shuffle/ready", "--listen=127.0.0.1:0", "--control-listen=127.0.0.1:0",
        "--metrics-listen=", "--min-free-mib=1", "--memory-budget-mib=16"}},
      {"env",
       {{{"name", "NODE_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
        {{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}}},
      {"volumeMounts",
       {{{"name", "data"}, {"mountPath", "/var/lib/shuffle"}},
        {{"name", "run"}, {"mountPath", "/run/shuffle"}}}}};
  const Json ds = {{"apiVersion", "apps/v1"},
                   {"kind", "DaemonSet"},
                   {"metadata", {{"name", "shuffle-server"}}},
                   {"spec",
                    {{"selector", {{"matchLabels", {{"app", "shuffle-server"}}}}},
                     {"template",
                      {{"metadata", {{"labels", {{"app", "shuffle-server"}}}}},
                       {"spec",
                        {{"terminationGracePeriodSeconds", 10},
                         {"containers", {container}},
                         {"volumes",
                          {{{"name", "data"}, {"hostPath", {{"path", "/var/lib/ss"}}}},
                           {{"name", "run"}, {"hostPath", {{"path", "/run/ss"}}}}}}}}}}}}};
  ASSERT_TRUE(admin().Create(kube::DaemonSets(ns_), ds).ok());
  for (const char* node : {"n1", "n2", "n3"}) {
    // Each node's server wrote its ready file into that node's hostPath directory.
    const std::string ready =
        absl::StrCat(suite_env->dir(), "/nodes/", node, "/hostpath/run/ss/ready");
    EXPECT_TRUE(Eventually([&] { return std::filesystem::exists(ready); }, absl::Seconds(60)))
        << ready;
    absl::StatusOr<core::ReadyFile> announced = core::ReadyFile::Read(ready);
    ASSERT_TRUE(announced.ok()) << announced.status();
    ASSERT_TRUE(announced->Find(core::ReadyFile::kSocket).has_value()) << announced->Format();
    EXPECT_EQ(announced->Find(core::ReadyFile::kSocket)->path(),
              absl::StrCat(suite_env->dir(), "/nodes/", node, "/hostpath/run/ss/data.sock"))
        << announced->Format();
  }
}

TEST_F(NodeAgentTest, TcpReadinessProbeGatesReady) {
  // A free loopback port for the server's control plane, probed by the readiness probe.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  close(fd);
  // The server starts listening after a delay, so "running but not ready" is observable.
  Json pod =
      Pod("probed",
          {"/bin/sh", "-c",
           absl::StrCat("sleep 2; exec ", SHUFFLE_SERVER_BINARY,
                        " --data-dir=/data --listen=127.0.0.1:0 --metrics-listen= --min-free-mib=1 "
                        "--control-listen=127.0.0.1:",
                        port)},
          "Always");
  pod["spec"]["volumes"] = {{{"name", "data"}, {"emptyDir", Json::object()}}};
  pod["spec"]["containers"][0]["volumeMounts"] = {{{"name", "data"}, {"mountPath", "/data"}}};
  pod["spec"]["containers"][0]["readinessProbe"] = {{"tcpSocket", {{"port", port}}}};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  const Json running = WaitPod("probed", Running);
  EXPECT_EQ(running["status"]["containerStatuses"][0]["ready"], false) << running["status"];
  const Json ready = WaitPod("probed", [](const Json& p) {
    return p["status"]["containerStatuses"][0].value("ready", false);
  });
  bool ready_condition = false;
  for (const Json& c : ready["status"]["conditions"]) {
    ready_condition = ready_condition || (c["type"] == "Ready" && c["status"] == "True");
  }
  EXPECT_TRUE(ready_condition) << ready["status"];
}

TEST_F(NodeAgentTest, EnvironmentFromSecretsConfigMapsAndTheDownwardApi) {
  ASSERT_TRUE(admin()
                  .Create(kube::Secrets(ns_), Json{{"metadata", {{"name", "s"}}},
                                                   {"stringData", {{"token", "s3cret"}}}})
                  .ok());
  ASSERT_TRUE(admin()
                  .Create(kube::ConfigMaps(ns_), Json{{"metadata", {{"name", "c"}}},
                                                      {"data", {{"MODE", "fast"}, {"X", "1"}}}})
                  .ok());
  Json pod =
      Pod("envy", {"/bin/sh", "-c", "echo \"$TOKEN $MODE $X $NODE $NS $OUT\" > $OUT/env"}, "Never");
  pod["spec"]["volumes"] = {{{"name", "out"}, {"emptyDir", Json::object()}}};
  Json& c = pod["spec"]["containers"][0];
  c["volumeMounts"] = {{{"name", "out"}, {"mountPath", "/out"}}};
  c["envFrom"] = {{{"configMapRef", {{"name", "c"}}}}};
  c["env"] = {
      {{"name", "TOKEN"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "token"}}}}}},
      {{"name", "MODE"}, {"valueFrom", {{"configMapKeyRef", {{"name", "c"}, {"key", "MODE"}}}}}},
      {{"name", "NODE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "NS"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
      {{"name", "OUT"}, {"value", "/out"}}};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  const Json done =
      WaitPod("envy", [](const Json& p) { return p["status"].value("phase", "") == "Succeeded"; });
  const std::string node = done["spec"]["nodeName"];
  const std::string out = absl::StrCat(suite_env->dir(), "/nodes/", node, "/pods/", ns_, "_envy_",
                                       done["metadata"]["uid"].get<std::string>(), "/volumes/out");
  std::ifstream in(out + "/env");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, absl::StrCat("s3cret fast 1 ", node, " ", ns_, " ", out));
}

// A pod whose ConfigMap is not there yet waits with CreateContainerConfigError, and runs once it
// appears: the agent plans it again with a backoff, as a kubelet does.
TEST_F(NodeAgentTest, APodWaitingForItsConfigMapRunsOnceItAppears) {
  Json pod = Pod("late", {"/bin/sh", "-c", "test \"$MODE\" = slow"}, "Never");
  pod["spec"]["containers"][0]["env"] = {
      {{"name", "MODE"},
       {"valueFrom", {{"configMapKeyRef", {{"name", "late-config"}, {"key", "MODE"}}}}}}};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  const Json waiting = WaitPod("late", [](const Json& p) {
    const Json statuses = p["status"].value("containerStatuses", Json::array());
    return !statuses.empty() && statuses[0]["state"].contains("waiting") &&
           statuses[0]["state"]["waiting"].value("reason", "") == "CreateContainerConfigError";
  });
  EXPECT_EQ(waiting["status"].value("phase", ""), "Pending") << waiting.dump(1);
  ASSERT_TRUE(admin()
                  .Create(kube::ConfigMaps(ns_), Json{{"metadata", {{"name", "late-config"}}},
                                                      {"data", {{"MODE", "slow"}}}})
                  .ok());
  const Json done =
      WaitPod("late", [](const Json& p) { return p["status"].value("phase", "") == "Succeeded"; });
  EXPECT_EQ(done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0)
      << done.dump(1);
}

TEST_F(NodeAgentTest, ExitCodeAndFailedPhaseAreReported) {
  ASSERT_TRUE(
      admin().Create(kube::Pods(ns_), Pod("exit3", {"/bin/sh", "-c", "exit 3"}, "Never")).ok());
  const Json pod =
      WaitPod("exit3", [](const Json& p) { return p["status"].value("phase", "") == "Failed"; });
  const Json& state = pod["status"]["containerStatuses"][0]["state"];
  ASSERT_TRUE(state.contains("terminated")) << pod.dump(1);
  EXPECT_EQ(state["terminated"]["exitCode"], 3);
  EXPECT_EQ(state["terminated"]["reason"], "Error");
}

TEST_F(NodeAgentTest, RestartPolicyAlwaysRestartsLikeAKubelet) {
  ASSERT_TRUE(
      admin().Create(kube::Pods(ns_), Pod("crash", {"/bin/sh", "-c", "exit 1"}, "Always")).ok());
  const Json pod = WaitPod("crash", [](const Json& p) {
    const Json* s = p.contains("status") && p["status"].contains("containerStatuses")
                        ? &p["status"]["containerStatuses"][0]
                        : nullptr;
    return s != nullptr && s->value("restartCount", 0) >= 2;
  });
  EXPECT_EQ(pod["status"]["phase"], "Running");
}

TEST_F(NodeAgentTest, GracefulDeletionSendsSigtermThenThePodGoes) {
  Json pod = Pod(
      "graceful",
      {"/bin/sh", "-c", "trap 'echo TERM > $MARK; exit 0' TERM; while true; do sleep 0.1; done"},
      "Always");
  pod["spec"]["volumes"] = {{{"name", "scratch"}, {"emptyDir", Json::object()}}};
  pod["spec"]["containers"][0]["volumeMounts"] = {{{"name", "scratch"}, {"mountPath", "/scratch"}}};
  pod["spec"]["containers"][0]["env"] = {{{"name", "MARK"}, {"value", "/scratch/term"}}};
  pod["spec"]["terminationGracePeriodSeconds"] = 30;
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  const Json running = WaitPod("graceful", Running);
  const std::string node = running["spec"]["nodeName"];
  const std::string uid = running["metadata"]["uid"];
  absl::SleepFor(absl::Milliseconds(300));  // let the shell install its trap

  const absl::Time start = absl::Now();
  ASSERT_TRUE(admin().Delete(kube::Pods(ns_, "graceful"), {}).ok());
  EXPECT_TRUE(Eventually(
      [&] {
        return admin().Get(kube::Pods(ns_, "graceful")).status().code() ==
               absl::StatusCode::kNotFound;
      },
      absl::Seconds(20)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(25)) << "the grace period ran out: no SIGTERM?";
  // The process wrote its mark into the emptyDir's real directory (mountPath rewritten).
  const std::string mark = absl::StrCat(suite_env->dir(), "/nodes/", node, "/pods/", ns_,
                                        "_graceful_", uid, "/volumes/scratch/term");
  std::ifstream in(mark);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "TERM") << mark;
}

TEST_F(NodeAgentTest, EvictionLeavesFailedEvictedWithDisruptionTarget) {
  ASSERT_TRUE(
      admin().Create(kube::Pods(ns_), Pod("victim", {"/bin/sleep", "3600"}, "Always")).ok());
  ASSERT_TRUE(
      admin().Create(kube::Pods(ns_), Pod("victim2", {"/bin/sleep", "3600"}, "Always")).ok());
  const Json running = WaitPod("victim", Running);
  WaitPod("victim2", Running);
  ASSERT_TRUE(AgentOf(running).Evict(ns_, "victim", "The node was low on resource: memory.").ok());
  // The other way to ask: the annotation (what `shuffle-node-agent evict` writes).
  ASSERT_TRUE(admin()
                  .Patch(kube::Pods(ns_, "victim2"), kube::PatchType::kMerge,
                         {{"metadata", {{"annotations", {{kEvictAnnotation, "test eviction"}}}}}})
                  .ok());
  for (const char* name : {"victim", "victim2"}) {
    const Json pod =
        WaitPod(name, [](const Json& p) { return p["status"].value("phase", "") == "Failed"; });
    EXPECT_EQ(pod["status"]["reason"], "Evicted");
    bool disruption = false;
    for (const Json& c : pod["status"]["conditions"]) {
      disruption = disruption || (c["type"] == "DisruptionTarget" && c["status"] == "True");
    }
    EXPECT_TRUE(disruption) << pod["status"].dump(1);
    EXPECT_EQ(AgentOf(pod).PidOf(ns_, name, "main"), 0);
    EXPECT_TRUE(pod["status"]["containerStatuses"][0]["state"].contains("terminated"));
  }
}

TEST_F(NodeAgentTest, BindingAndApiEvictionThroughTheClient) {
  Json pod = Pod("bound", {"/bin/sleep", "3600"}, "Always");
  pod["spec"]["schedulerName"] = "nobody";  // kube-scheduler leaves it alone: we bind it
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  ASSERT_TRUE(admin().Bind(ns_, "bound", "n2").ok());
  const Json running = WaitPod("bound", Running);
  EXPECT_EQ(running["spec"]["nodeName"], "n2");
  // The Eviction API (policy/v1beta1) deletes the pod gracefully; the agent finishes it.
  const absl::Status evicted = admin().Evict(ns_, "bound", {});
  ASSERT_TRUE(evicted.ok()) << evicted;
  EXPECT_TRUE(Eventually(
      [&] {
        return admin().Get(kube::Pods(ns_, "bound")).status().code() == absl::StatusCode::kNotFound;
      },
      absl::Seconds(30)));
  EXPECT_EQ(admin().Evict(ns_, "bound", {}).code(), absl::StatusCode::kNotFound);
}

TEST_F(NodeAgentTest, DeletingTheOwnerGarbageCollectsThePod) {
  absl::StatusOr<Json> owner = admin().Create(
      kube::ConfigMaps(ns_), Json{{"metadata", {{"name", "owner"}}}, {"data", {{"k", "v"}}}});
  ASSERT_TRUE(owner.ok()) << owner.status();
  Json pod = Pod("owned", {"/bin/sleep", "3600"}, "Always");
  pod["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                         {"kind", "ConfigMap"},
                                         {"name", "owner"},
                                         {"uid", (*owner)["metadata"]["uid"]}}};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  WaitPod("owned", Running);
  ASSERT_TRUE(admin()
                  .Delete(kube::ConfigMaps(ns_, "owner"), {.grace_period_seconds = std::nullopt,
                                                           .propagation_policy = "Background",
                                                           .uid = ""})
                  .ok());
  EXPECT_TRUE(Eventually(
      [&] {
        return admin().Get(kube::Pods(ns_, "owned")).status().code() == absl::StatusCode::kNotFound;
      },
      absl::Seconds(60)))
      << "the garbage collector did not delete the owned pod";
}

TEST_F(NodeAgentTest, TheBinaryRunsANodeAndEvictsFromOutside) {
  core::ProcessSpec spec;
  spec.argv = {SHUFFLE_NODE_AGENT_BINARY, "--kubeconfig=" + suite_env->kubeconfig(),
               "--root=" + suite_env->dir() + "/nodes", "--node=px",
               std::string("--image-map=") + kSleepImage + "=/bin/sleep"};
  spec.log_path = suite_env->dir() + "/node-agent-px.log";
  absl::StatusOr<std::unique_ptr<core::Process>> agent = core::Process::Spawn(spec);
  ASSERT_TRUE(agent.ok()) << agent.status();
  Json pod = Pod("on-px", {}, "Always");
  pod["spec"]["nodeName"] = "px";  // bound directly, no scheduler
  pod["spec"]["containers"][0].erase("command");
  pod["spec"]["containers"][0]["image"] = kSleepImage;
  pod["spec"]["containers"][0]["args"] = {"3600"};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), pod).ok());
  WaitPod("on-px", Running);
  core::ProcessSpec evict;
  evict.argv = {SHUFFLE_NODE_AGENT_BINARY, "evict", "--kubeconfig=" + suite_env->kubeconfig(),
                ns_ + "/on-px", "from the command line"};
  absl::StatusOr<std::unique_ptr<core::Process>> evictor = core::Process::Spawn(evict);
  ASSERT_TRUE(evictor.ok());
  const std::optional<core::ExitInfo> exit = (*evictor)->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value() && exit->exit_code == 0 && exit->signal == 0);
  const Json evicted =
      WaitPod("on-px", [](const Json& p) { return p["status"].value("phase", "") == "Failed"; });
  EXPECT_EQ(evicted["status"]["message"], "from the command line");
  const core::ExitInfo stopped = (*agent)->Stop(std::chrono::seconds(10));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.Describe();
}

}  // namespace
}  // namespace shuffle::node_agent
