// A job driven through the Kubernetes backend on three fake nodes of a real control plane: the
// real shuffle-server runs as a DaemonSet (the node agents run it, one per node, each node with
// its own loopback IP), executors run as pods the pod manager creates, and executor pods are
// evicted through the Eviction API during the reduce stage. The map output lives in the servers,
// so no map runs twice and the output validates.
#include <memory>
#include <string>
#include <vector>

#include "driver/chaos/chaos.h"
#include "driver/podmanager/kube_backend.h"
#include "driver/runner/job_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/k8s/node_agent/node_agent.h"
#include "tests/k8s/testenv.h"

namespace shuffle::k8stest {
namespace {

using kube::Json;

constexpr char kServerImage[] = "shuffle/shuffle:test";
constexpr int kDataPort = 17337;  // hostPorts of the DaemonSet on each fake node's IP
constexpr int kControlPort = 17338;

Json ServerDaemonSet() {
  const Json env = {
      {{"name", "NODE_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "HOST_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}}}};
  const Json container = {
      {"name", "server"},
      {"image", kServerImage},
      {"args",
       {"--data-dir=/var/lib/shuffle", "--socket=/run/shuffle/data.sock",
        "--listen=$(HOST_IP):" + std::to_string(kDataPort),
        "--control-listen=$(HOST_IP):" + std::to_string(kControlPort),
        "--metrics-listen=", "--min-free-mib=16", "--memory-budget-mib=64", "--log-level=warning"}},
      {"env", env},
      {"volumeMounts",
       {{{"name", "data"}, {"mountPath", "/var/lib/shuffle"}},
        {{"name", "socket"}, {"mountPath", "/run/shuffle"}}}}};
  const Json labels = {{"app.kubernetes.io/name", "shuffle"},
                       {"app.kubernetes.io/component", "server"}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"metadata", {{"name", "shuffle-server"}}},
          {"spec",
           {{"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec",
               {{"terminationGracePeriodSeconds", 10},
                {"containers", {container}},
                {"volumes",
                 {{{"name", "data"}, {"hostPath", {{"path", "/var/lib/shuffle"}}}},
                  {{"name", "socket"}, {"hostPath", {{"path", "/run/shuffle"}}}}}}}}}}}}};
}

TEST(KubeJobTest, ExecutorPodsEvictedDuringTheReduceStageCostNoMapRun) {
  absl::StatusOr<std::unique_ptr<KubeTestEnv>> env = KubeTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  const kube::Client& admin = (*env)->admin();
  std::vector<std::unique_ptr<node_agent::NodeAgent>> agents;
  int ip = 11;
  for (const char* name : {"n1", "n2", "n3"}) {
    node_agent::NodeAgentOptions options;
    options.node = name;
    options.root = (*env)->dir() + "/nodes";
    options.host_ip = "127.0.0." + std::to_string(ip++);
    options.image_map[kServerImage] = SHUFFLE_SERVER_BINARY;
    absl::StatusOr<std::unique_ptr<node_agent::NodeAgent>> agent =
        node_agent::NodeAgent::Start(&admin, options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agents.push_back(*std::move(agent));
  }
  const std::string ns = UniqueName("job");
  kube::ResourcePath namespaces;
  namespaces.resource = "namespaces";
  ASSERT_TRUE(admin.Create(namespaces, Json{{"metadata", {{"name", ns}}}}).ok());
  ASSERT_TRUE(admin.Create(kube::DaemonSets(ns), ServerDaemonSet()).ok());

  podmanager::KubeBackendOptions options;
  options.pod.namespace_name = ns;
  options.pod.app_label = runner::NewAppId();
  options.pod.executor_command = SHUFFLE_EXECUTOR_BINARY;
  options.server_namespace = ns;
  options.data_port = kDataPort;
  options.control_port = kControlPort;
  absl::StatusOr<std::unique_ptr<podmanager::KubeBackend>> backend =
      podmanager::KubeBackend::Start(&admin, options);
  ASSERT_TRUE(backend.ok()) << backend.status();
  // The three servers are up before the job registers with them.
  ASSERT_TRUE(Eventually(
      [&] {
        int up = 0;
        for (const podmanager::NodeInfo& node : (*backend)->Nodes()) {
          up += node.server_up ? 1 : 0;
        }
        return up == 3;
      },
      absl::Seconds(60)));

  runner::JobOptions job;
  // 240 MB: a reduce stage long enough that both evictions end before the job does.
  job.job = jobs::Job::MakeSpec("sort", 5, 12, 24, 200000);
  job.app_id = options.pod.app_label;
  job.executors = 3;
  job.slots = 1;
  job.listen = "127.0.0.1:0";
  job.step_interval = std::chrono::milliseconds(20);
  job.timeout = std::chrono::seconds(240);
  runner::JobRunner runner(backend->get(), job);
  chaos::ChaosOptions evictions;
  evictions.evictions_during_reduce = 2;
  absl::StatusOr<runner::JobReport> report = chaos::RunWithChaos(runner, evictions);
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->evictions, 2u);
  EXPECT_EQ(report->pods.evicted, 2u);
  EXPECT_EQ(report->progress.map_attempts, 12u);  // == map partitions
  EXPECT_EQ(report->nodes, 3u);
  if (HasFailure()) {
    (*env)->KeepDirectory();
    std::cerr << "logs kept in " << (*env)->dir() << "\n";
  }
}

}  // namespace
}  // namespace shuffle::k8stest
