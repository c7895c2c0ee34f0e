// A job driven through the Kubernetes backend on three fake nodes of a real control plane: the
// real shuffle-server runs as a DaemonSet (the node agents run it, one per node, each node with
// its own loopback IP), executors run as pods the pod manager creates, and executor pods are
// evicted through the Eviction API during the reduce stage. The map output lives in the servers,
// so no map runs twice and the output validates. The same with TLS on the servers' TCP planes, as
// deploy/overlays/tls sets them up: the driver and the executor pods check the servers'
// certificate with a CA from a Secret.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver/chaos/chaos.h"
#include "driver/kube/config.h"
#include "driver/podmanager/kube_backend.h"
#include "driver/runner/job_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/k8s/node_agent/node_agent.h"
#include "tests/k8s/testenv.h"
#include "tests/support/test_pki.h"

namespace shuffle::k8stest {
namespace {

using kube::Json;

constexpr char kServerImage[] = "shuffle/shuffle:test";
constexpr int kDataPort = 17337;  // hostPorts of the DaemonSet on each fake node's IP
constexpr int kControlPort = 17338;

constexpr char kTlsSecret[] = "shuffle-tls";  // as deploy/overlays/tls names it
constexpr char kTlsDir[] = "/etc/shuffle/tls";

// `tls`: the servers serve TLS with the kTlsSecret Secret's tls.crt and tls.key.
Json ServerDaemonSet(bool tls) {
  const Json env = {
      {{"name", "NODE_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "HOST_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}}}};
  Json container = {
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
  Json volumes = {{{"name", "data"}, {"hostPath", {{"path", "/var/lib/shuffle"}}}},
                  {{"name", "socket"}, {"hostPath", {{"path", "/run/shuffle"}}}}};
  if (tls) {
    for (const auto& [flag, file] :
         {std::pair{"--tls-cert-file=", "tls.crt"}, std::pair{"--tls-key-file=", "tls.key"},
          std::pair{"--tls-ca-file=", "ca.crt"}}) {
      container["args"].push_back(absl::StrCat(flag, kTlsDir, "/", file));
    }
    container["volumeMounts"].push_back({{"name", "tls"}, {"mountPath", kTlsDir}});
    volumes.push_back({{"name", "tls"}, {"secret", {{"secretName", kTlsSecret}}}});
  }
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
                {"volumes", volumes}}}}}}}};
}

// Three fake nodes (127.0.0.11-13), each running the namespace's shuffle-server DaemonSet, and
// the Kubernetes backend over them; `tls`: the servers' certificate comes from a Secret, as
// deploy/overlays/tls has it.
class KubeJobTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && env_ != nullptr) {
      env_->KeepDirectory();
      std::cerr << "logs kept in " << env_->dir() << "\n";
    }
  }

  void StartCluster(bool tls) {
    absl::StatusOr<std::unique_ptr<KubeTestEnv>> env = KubeTestEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    const kube::Client& admin = env_->admin();
    int ip = 11;
    for (const char* name : {"n1", "n2", "n3"}) {
      node_agent::NodeAgentOptions options;
      options.node = name;
      options.root = env_->dir() + "/nodes";
      options.host_ip = "127.0.0." + std::to_string(ip++);
      options.image_map[kServerImage] = SHUFFLE_SERVER_BINARY;
      absl::StatusOr<std::unique_ptr<node_agent::NodeAgent>> agent =
          node_agent::NodeAgent::Start(&admin, options);
      ASSERT_TRUE(agent.ok()) << agent.status();
      agents_.push_back(*std::move(agent));
    }
    ns_ = UniqueName("job");
    kube::ResourcePath namespaces;
    namespaces.resource = "namespaces";
    ASSERT_TRUE(admin.Create(namespaces, Json{{"metadata", {{"name", ns_}}}}).ok());
    if (tls) {
      // The servers' certificate names what deploy/overlays/tls issues, not the nodes' IPs:
      // every client dials an IP and checks this name.
      pki_ = std::make_unique<testsupport::TestPki>(env_->dir());
      server_name_ = "shuffle-server." + ns_ + ".svc";
      const testsupport::IssuedCertificate cert = pki_->Issue("server", {server_name_});
      Json data = Json::object();
      for (const auto& [key, file] :
           {std::pair{"tls.crt", cert.cert_file}, std::pair{"tls.key", cert.key_file},
            std::pair{"ca.crt", pki_->ca_file()}}) {
        absl::StatusOr<std::string> content = kube::ReadSmallFile(file);
        ASSERT_TRUE(content.ok()) << content.status();
        data[key] = *content;
      }
      ASSERT_TRUE(admin
                      .Create(kube::Secrets(ns_), Json{{"metadata", {{"name", kTlsSecret}}},
                                                       {"type", "kubernetes.io/tls"},
                                                       {"stringData", data}})
                      .ok());
    }
    ASSERT_TRUE(admin.Create(kube::DaemonSets(ns_), ServerDaemonSet(tls)).ok());

    options_.pod.namespace_name = ns_;
    options_.pod.app_label = runner::NewAppId();
    options_.pod.executor_command = SHUFFLE_EXECUTOR_BINARY;
    if (tls) {
      options_.pod.tls_ca_secret = kTlsSecret;
      options_.pod.tls_server_name = server_name_;
    }
    options_.server_namespace = ns_;
    options_.data_port = kDataPort;
    options_.control_port = kControlPort;
    absl::StatusOr<std::unique_ptr<podmanager::KubeBackend>> backend =
        podmanager::KubeBackend::Start(&admin, options_);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    // The three servers are up before the job registers with them.
    ASSERT_TRUE(Eventually(
        [&] {
          int up = 0;
          for (const podmanager::NodeInfo& node : backend_->Nodes()) {
            up += node.server_up ? 1 : 0;
          }
          return up == 3;
        },
        absl::Seconds(60)));
  }

  runner::JobOptions Job(proto::JobSpec spec) const {
    runner::JobOptions job;
    job.job = std::move(spec);
    job.app_id = options_.pod.app_label;
    job.executors = 3;
    job.slots = 1;
    job.listen = "127.0.0.1:0";
    job.step_interval = std::chrono::milliseconds(20);
    job.timeout = std::chrono::seconds(240);
    if (pki_ != nullptr) {
      job.tls_ca_file = pki_->ca_file();
      job.tls_server_name = server_name_;
    }
    return job;
  }

  std::unique_ptr<KubeTestEnv> env_;
  std::vector<std::unique_ptr<node_agent::NodeAgent>> agents_;
  std::string ns_;
  std::unique_ptr<testsupport::TestPki> pki_;
  std::string server_name_;
  podmanager::KubeBackendOptions options_;
  std::unique_ptr<podmanager::KubeBackend> backend_;
};

TEST_F(KubeJobTest, ExecutorPodsEvictedDuringTheReduceStageCostNoMapRun) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(/*tls=*/false));
  // 240 MB: a reduce stage long enough that both evictions end before the job does.
  runner::JobRunner runner(backend_.get(), Job(jobs::Job::MakeSpec("sort", 5, 12, 24, 200000)));
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
}

// The servers speak only TLS on their TCP planes, so the job ends only if the driver's control
// calls and every executor's fetch from another node's server went through TLS, checked with
// the CA the executor pods mount from the Secret, by the certificate's name.
TEST_F(KubeJobTest, WithTlsTheDriverAndExecutorPodsCheckTheServersWithTheSecretsCa) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(/*tls=*/true));
  runner::JobRunner runner(backend_.get(), Job(jobs::Job::MakeSpec("sort", 6, 6, 12, 50000)));
  absl::StatusOr<runner::JobReport> report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->Render());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->progress.map_attempts, 6u);
  EXPECT_EQ(report->nodes, 3u);
}

}  // namespace
}  // namespace shuffle::k8stest
