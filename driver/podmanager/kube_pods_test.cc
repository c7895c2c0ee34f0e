#include "driver/podmanager/kube_pods.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shuffle::podmanager {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

ExecutorPodTemplate Template() {
  ExecutorPodTemplate t;
  t.namespace_name = "jobs";
  t.app_label = "job-1234";
  t.driver_pod_name = "driver-0";
  t.driver_pod_uid = "uid-1";
  return t;
}

TEST(ExecutorPodTest, CarriesLabelsOwnerSocketAndNodeIp) {
  json pod = ExecutorPod(Template(), ExecutorLaunch{.executor_id = "exec-7",
                                                    .driver_address = "10.0.0.5:7100",
                                                    .secret = "s3cret",
                                                    .slots = 2});
  EXPECT_EQ(pod["metadata"]["name"], "exec-7");
  EXPECT_EQ(pod["metadata"]["namespace"], "jobs");
  EXPECT_EQ(pod["metadata"]["labels"]["app"], "job-1234");
  EXPECT_EQ(pod["metadata"]["labels"]["role"], "executor");
  EXPECT_EQ(pod["metadata"]["labels"]["executor-id"], "exec-7");
  const json& owner = pod["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "Pod");
  EXPECT_EQ(owner["uid"], "uid-1");
  EXPECT_TRUE(owner["controller"].get<bool>());
  const json& c = pod["spec"]["containers"][0];
  EXPECT_THAT(c["args"].dump(), HasSubstr("--driver=10.0.0.5:7100"));
  EXPECT_THAT(c["args"].dump(), HasSubstr("--slots=2"));
  EXPECT_EQ(c["resources"]["requests"]["cpu"], "2");
  EXPECT_THAT(c["env"].dump(), HasSubstr("status.hostIP"));
  EXPECT_THAT(c["env"].dump(), HasSubstr("/run/shuffle/data.sock"));
  EXPECT_EQ(pod["spec"]["volumes"][0]["hostPath"]["path"], "/run/shuffle");
  EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(ExecutorSelector(Template()), "app=job-1234,role=executor");
}

TEST(ExecutorPodTest, NoOwnerWhenTheDriverRunsOutsideTheCluster) {
  ExecutorPodTemplate t = Template();
  t.driver_pod_name.clear();
  EXPECT_FALSE(ExecutorPod(t, {.executor_id = "exec-1"})["metadata"].contains("ownerReferences"));
}

// With TLS on, the pod mounts only the CA of the Secret (never a key it may also hold) and the
// executor checks the servers' certificate with it, by the name the certificate carries.
TEST(ExecutorPodTest, TlsMountsOnlyTheCaAndNamesTheServer) {
  EXPECT_FALSE(ExecutorPod(Template(), {.executor_id = "exec-1"})["spec"].dump().find("tls") !=
               std::string::npos);
  ExecutorPodTemplate t = Template();
  t.tls_ca_secret = "shuffle-tls";
  t.tls_server_name = "shuffle-server.shuffle-system.svc";
  const json pod = ExecutorPod(t, {.executor_id = "exec-1"});
  const json& c = pod["spec"]["containers"][0];
  EXPECT_THAT(c["args"].dump(), HasSubstr("\"--tls-ca-file=/etc/shuffle/tls-ca/ca.crt\""));
  EXPECT_THAT(c["args"].dump(),
              HasSubstr("\"--tls-server-name=shuffle-server.shuffle-system.svc\""));
  EXPECT_EQ(c["volumeMounts"][1]["mountPath"], "/etc/shuffle/tls-ca");
  EXPECT_EQ(c["volumeMounts"][1]["name"], "shuffle-tls-ca");
  const json& volume = pod["spec"]["volumes"][1];
  EXPECT_EQ(volume["name"], "shuffle-tls-ca");
  EXPECT_EQ(volume["secret"]["secretName"], "shuffle-tls");
  EXPECT_EQ(volume["secret"]["items"], json::parse(R"([{"key": "ca.crt", "path": "ca.crt"}])"));
}

json Pod(const std::string& phase, const json& status_extra = json::object()) {
  json pod = {{"metadata", {{"name", "exec-3"}, {"labels", {{"executor-id", "exec-3"}}}}},
              {"spec", {{"nodeName", "node-b"}}},
              {"status", {{"phase", phase}}}};
  pod["status"].update(status_extra);
  return pod;
}

TEST(InterpretPodTest, RunningPodsAreNotEnded) {
  PodState s = InterpretPod("MODIFIED", Pod("Running"));
  EXPECT_EQ(s.executor_id, "exec-3");
  EXPECT_EQ(s.node, "node-b");
  EXPECT_FALSE(s.ended);
  EXPECT_FALSE(s.evicted);
}

TEST(InterpretPodTest, AFailedContainerSaysItsExitCode) {
  PodState s = InterpretPod(
      "MODIFIED",
      Pod("Failed",
          {{"containerStatuses",
            json::array(
                {{{"state", {{"terminated", {{"exitCode", 3}, {"reason", "Error"}}}}}}})}}));
  EXPECT_TRUE(s.ended);
  EXPECT_FALSE(s.evicted);
  EXPECT_EQ(s.detail, "exit code 3 (Error)");
}

TEST(InterpretPodTest, EvictionsAreRecognisedByReasonOrDisruptionTarget) {
  PodState by_reason = InterpretPod(
      "MODIFIED", Pod("Failed", {{"reason", "Evicted"}, {"message", "low on memory"}}));
  EXPECT_TRUE(by_reason.ended);
  EXPECT_TRUE(by_reason.evicted);
  EXPECT_EQ(by_reason.detail, "evicted: low on memory");
  PodState by_condition = InterpretPod(
      "MODIFIED",
      Pod("Failed",
          {{"conditions", json::array({{{"type", "DisruptionTarget"}, {"status", "True"}}})}}));
  EXPECT_TRUE(by_condition.evicted);
}

TEST(InterpretPodTest, ADeletedEventIsAuthoritativeEvenIfThePodSaysRunning) {
  PodState s = InterpretPod("DELETED", Pod("Running"));
  EXPECT_TRUE(s.ended);
  EXPECT_EQ(s.detail, "pod deleted");
  json terminating = Pod("Running");
  terminating["metadata"]["deletionTimestamp"] = "2026-11-23T10:00:00Z";
  PodState t = InterpretPod("MODIFIED", terminating);
  EXPECT_TRUE(t.deleting);
  EXPECT_FALSE(t.ended);
}

TEST(InterpretPodTest, MalformedObjectsDoNotThrow) {
  PodState s = InterpretPod("ADDED", json::parse(R"({"metadata": 3, "status": {"phase": 7}})"));
  EXPECT_TRUE(s.executor_id.empty());
  EXPECT_FALSE(s.ended);
}

}  // namespace
}  // namespace shuffle::podmanager
