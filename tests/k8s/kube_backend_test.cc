// The executor pod manager's Kubernetes backend against a real control plane (no node agent:
// executor pods stay Pending, which is enough to check what the backend asks of the API server
// and what it makes of the answers): RBAC checked up front, pods accepted with their labels and
// owner, release, eviction through the Eviction API, deletions seen from the watch, and garbage
// collection of executor pods when the driver pod goes.
#include "driver/podmanager/kube_backend.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/k8s/kube_suite.h"

namespace shuffle::podmanager {
namespace {

using k8stest::Eventually;
using kube::Json;
using ::testing::HasSubstr;

class KubeBackendTest : public k8stest::KubeSuite {
 protected:
  void TearDown() override {
    backend_.reset();
    KubeSuite::TearDown();
  }

  KubeBackendOptions Options() {
    KubeBackendOptions o;
    o.pod.namespace_name = ns_;
    o.pod.app_label = "job-test";
    o.server_namespace = ns_;
    o.create_backoff = std::chrono::milliseconds(50);
    return o;
  }

  void StartBackend(KubeBackendOptions options) {
    absl::StatusOr<std::unique_ptr<KubeBackend>> backend =
        KubeBackend::Start(&admin(), std::move(options));
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    backend_->SetEventCallback([this](const BackendEvent& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e);
    });
  }

  std::vector<BackendEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  bool EventFor(const std::string& id, BackendEvent* out) {
    for (const BackendEvent& e : Events()) {
      if (e.executor_id == id) {
        *out = e;
        return true;
      }
    }
    return false;
  }
  bool PodExists(const std::string& name) { return admin().Get(kube::Pods(ns_, name)).ok(); }

  // A pod standing in for the driver (never scheduled: no node runs here); its uid.
  std::string CreateDriverPod() {
    const Json pod = {{"metadata", {{"name", "driver"}}},
                      {"spec", {{"containers", {{{"name", "d"}, {"image", "none"}}}}}}};
    absl::StatusOr<Json> created = admin().Create(kube::Pods(ns_), pod);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? (*created)["metadata"]["uid"].get<std::string>() : "";
  }

  std::unique_ptr<KubeBackend> backend_;
  absl::Mutex mu_;
  std::vector<BackendEvent> events_ ABSL_GUARDED_BY(mu_);
};

ExecutorLaunch Launch(const std::string& id) {
  return ExecutorLaunch{
      .executor_id = id, .driver_address = "10.0.0.1:7100", .secret = "s", .slots = 2};
}

TEST_F(KubeBackendTest, AMissingPermissionFailsFastNamingTheVerbAndResource) {
  // A service account that may read pods but not create them or evict.
  const std::string token = ServiceAccountToken("driver");
  kube::ResourcePath roles{.api = "apis/rbac.authorization.k8s.io/v1",
                           .ns = ns_,
                           .resource = "roles",
                           .name = "",
                           .subresource = ""};
  ASSERT_TRUE(admin()
                  .Create(roles, Json{{"metadata", {{"name", "reader"}}},
                                      {"rules",
                                       {{{"apiGroups", {""}},
                                         {"resources", {"pods"}},
                                         {"verbs", {"get", "list", "watch"}}}}}})
                  .ok());
  kube::ResourcePath bindings = roles;
  bindings.resource = "rolebindings";
  ASSERT_TRUE(
      admin()
          .Create(bindings,
                  Json{{"metadata", {{"name", "reader"}}},
                       {"roleRef",
                        {{"apiGroup", "rbac.authorization.k8s.io"},
                         {"kind", "Role"},
                         {"name", "reader"}}},
                       {"subjects",
                        {{{"kind", "ServiceAccount"}, {"name", "driver"}, {"namespace", ns_}}}}})
          .ok());
  kube::Config config = suite_env->AdminConfig();
  config.bearer_token = token;
  absl::StatusOr<std::unique_ptr<kube::Client>> client = kube::Client::Open(config);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<std::unique_ptr<KubeBackend>> backend =
      KubeBackend::Start(client->get(), Options());
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(backend.status().message(), HasSubstr("cannot create pods in namespace " + ns_));
  EXPECT_THAT(backend.status().message(), HasSubstr("shuffle-driver ClusterRole"));
}

TEST_F(KubeBackendTest, ExecutorPodsAreCreatedReleasedAndEvictedThroughTheApi) {
  KubeBackendOptions options = Options();
  options.pod.driver_pod_name = "driver";
  options.pod.driver_pod_uid = CreateDriverPod();
  StartBackend(options);
  for (const char* id : {"exec-1", "exec-2", "exec-3"}) {
    ASSERT_TRUE(backend_->LaunchExecutor(Launch(id)).ok());
  }
  ASSERT_TRUE(
      Eventually([&] { return PodExists("exec-1") && PodExists("exec-2") && PodExists("exec-3"); },
                 absl::Seconds(30)));
  absl::StatusOr<Json> pod = admin().Get(kube::Pods(ns_, "exec-2"));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ((*pod)["metadata"]["labels"]["executor-id"], "exec-2");
  EXPECT_EQ((*pod)["metadata"]["ownerReferences"][0]["uid"], options.pod.driver_pod_uid);
  EXPECT_EQ((*pod)["spec"]["volumes"][0]["hostPath"]["path"], "/run/shuffle");

  ASSERT_TRUE(backend_->ReleaseExecutor("exec-1").ok());
  ASSERT_TRUE(backend_->EvictExecutor("exec-2").ok());  // policy/v1beta1 Eviction
  BackendEvent released;
  BackendEvent evicted;
  ASSERT_TRUE(
      Eventually([&] { return EventFor("exec-1", &released) && EventFor("exec-2", &evicted); },
                 absl::Seconds(30)));
  EXPECT_TRUE(released.released);
  EXPECT_FALSE(released.evicted);
  EXPECT_TRUE(evicted.evicted);
  EXPECT_FALSE(evicted.released);

  // A pod deleted behind the backend's back ends its executor too (DELETED is authoritative).
  ASSERT_TRUE(admin()
                  .Delete(kube::Pods(ns_, "exec-3"),
                          {.grace_period_seconds = 0, .propagation_policy = "", .uid = ""})
                  .ok());
  BackendEvent deleted;
  ASSERT_TRUE(Eventually([&] { return EventFor("exec-3", &deleted); }, absl::Seconds(30)));
  EXPECT_THAT(deleted.detail, HasSubstr("deleted"));
  EXPECT_GE(backend_->watch_stats().lists, 1u);
}

TEST_F(KubeBackendTest, DeletingTheDriverPodGarbageCollectsItsExecutors) {
  KubeBackendOptions options = Options();
  options.pod.driver_pod_name = "driver";
  options.pod.driver_pod_uid = CreateDriverPod();
  StartBackend(options);
  ASSERT_TRUE(backend_->LaunchExecutor(Launch("exec-1")).ok());
  ASSERT_TRUE(backend_->LaunchExecutor(Launch("exec-2")).ok());
  ASSERT_TRUE(
      Eventually([&] { return PodExists("exec-1") && PodExists("exec-2"); }, absl::Seconds(30)));
  ASSERT_TRUE(
      admin()
          .Delete(kube::Pods(ns_, "driver"),
                  {.grace_period_seconds = 0, .propagation_policy = "Background", .uid = ""})
          .ok());
  // The controller manager's garbage collector deletes the owned pods; the watch reports them.
  BackendEvent e1;
  BackendEvent e2;
  EXPECT_TRUE(Eventually([&] { return EventFor("exec-1", &e1) && EventFor("exec-2", &e2); },
                         absl::Seconds(90)));
  EXPECT_FALSE(PodExists("exec-1"));
  EXPECT_FALSE(PodExists("exec-2"));
}

TEST_F(KubeBackendTest, NodesAreWhereTheServerPodsRun) {
  StartBackend(Options());
  EXPECT_TRUE(backend_->Nodes().empty());  // no server pod yet
  const Json server = {
      {"metadata",
       {{"name", "server-n1"},
        {"labels",
         {{"app.kubernetes.io/name", "shuffle"}, {"app.kubernetes.io/component", "server"}}}}},
      {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "s"}, {"image", "none"}}}}}}};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), server).ok());
  kube::ResourcePath status = kube::Pods(ns_, "server-n1");
  status.subresource = "status";
  ASSERT_TRUE(admin()
                  .Patch(status, kube::PatchType::kMerge,
                         Json{{"status", {{"phase", "Running"}, {"hostIP", "127.0.0.11"}}}})
                  .ok());
  std::vector<NodeInfo> nodes = backend_->Nodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "n1");
  EXPECT_EQ(nodes[0].data_address, "127.0.0.11:7340");
  EXPECT_EQ(nodes[0].control_address, "127.0.0.11:7338");
  EXPECT_TRUE(nodes[0].server_up);
}

// Node objects: a cordoned node is `leaving` (its server takes no second copies); a deleted one
// has lost its server at once, as a kServerLost event, and its server pod (which nothing
// collects here) no longer counts as up.
TEST_F(KubeBackendTest, ACordonedNodeIsLeavingAndADeletedNodeHasLostItsServer) {
  const std::string node = k8stest::UniqueName("node");
  ASSERT_TRUE(admin().Create(kube::Nodes(), Json{{"metadata", {{"name", node}}}}).ok());
  const Json server = {
      {"metadata",
       {{"name", "server-" + node},
        {"labels",
         {{"app.kubernetes.io/name", "shuffle"}, {"app.kubernetes.io/component", "server"}}}}},
      {"spec", {{"nodeName", node}, {"containers", {{{"name", "s"}, {"image", "none"}}}}}}};
  ASSERT_TRUE(admin().Create(kube::Pods(ns_), server).ok());
  kube::ResourcePath status = kube::Pods(ns_, "server-" + node);
  status.subresource = "status";
  ASSERT_TRUE(admin()
                  .Patch(status, kube::PatchType::kMerge,
                         Json{{"status", {{"phase", "Running"}, {"hostIP", "127.0.0.12"}}}})
                  .ok());
  KubeBackendOptions options = Options();
  options.node_poll = std::chrono::milliseconds(100);
  StartBackend(options);
  auto info = [&]() -> std::optional<NodeInfo> {
    for (const NodeInfo& n : backend_->Nodes()) {
      if (n.name == node) {
        return n;
      }
    }
    return std::nullopt;
  };
  ASSERT_TRUE(info().has_value());
  EXPECT_TRUE(info()->server_up);
  EXPECT_EQ(info()->leaving, "");

  ASSERT_TRUE(admin()
                  .Patch(kube::Nodes(node), kube::PatchType::kMerge,
                         Json{{"spec", {{"unschedulable", true}}}})
                  .ok());
  EXPECT_TRUE(Eventually([&] { return info()->leaving == "cordoned (spec.unschedulable)"; },
                         absl::Seconds(10)));
  EXPECT_TRUE(info()->server_up);  // it still serves what it holds

  ASSERT_TRUE(admin().Delete(kube::Nodes(node), kube::DeleteOptions{}).ok());
  auto lost = [&] {
    for (const BackendEvent& e : Events()) {
      if (e.kind == BackendEvent::Kind::kServerLost && e.node == node) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(Eventually(lost, absl::Seconds(10)));
  ASSERT_TRUE(info().has_value());  // its pod is still listed
  EXPECT_FALSE(info()->server_up);
}

}  // namespace
}  // namespace shuffle::podmanager
