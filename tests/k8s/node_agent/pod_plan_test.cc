#include "tests/k8s/node_agent/pod_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::node_agent {
namespace {

using kube::Json;
using ::testing::HasSubstr;

const Json kPod = Json::parse(R"({
  "metadata": {"name": "exec-1", "namespace": "spark", "uid": "u1", "labels": {"role": "executor"}},
  "spec": {
    "nodeName": "n1",
    "restartPolicy": "Never",
    "volumes": [
      {"name": "shuffle", "hostPath": {"path": "/var/lib/shuffle"}},
      {"name": "scratch", "emptyDir": {}}
    ],
    "containers": [{
      "name": "main",
      "image": "shuffle/executor:1",
      "args": ["--socket=/run/shuffle/data.sock", "--scratch", "/scratch/x", "/scratchy"],
      "env": [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "ROLE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['role']"}}},
        {"name": "DATA", "value": "/run/shuffle"},
        {"name": "SOCK", "value": "$(DATA)/data.sock"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}
      ],
      "volumeMounts": [
        {"name": "shuffle", "mountPath": "/run/shuffle"},
        {"name": "scratch", "mountPath": "/scratch"}
      ],
      "readinessProbe": {"tcpSocket": {"port": "data"}},
      "ports": [{"name": "data", "containerPort": 7340}]
    }]
  }
})");

PlanOptions Options() {
  PlanOptions o;
  o.node = "n1";
  o.node_root = "/root/n1";
  o.image_map["shuffle/executor:1"] = "/bin/executor";
  return o;
}

absl::StatusOr<std::string> Ref(const std::string& kind, const std::string& ns,
                                const std::string& name, const std::string& key) {
  if (kind == "secrets" && ns == "spark" && name == "s" && key == "token") {
    return std::string("t0k");
  }
  return absl::NotFoundError("no " + name);
}

absl::StatusOr<std::map<std::string, std::string>> Map(const std::string&, const std::string&,
                                                       const std::string&) {
  return std::map<std::string, std::string>{{"A", "1"}};
}

std::string EnvOf(const ContainerPlan& c, const std::string& name) {
  for (const auto& [k, v] : c.env) {
    if (k == name) {
      return v;
    }
  }
  return "<unset>";
}

TEST(PodPlanTest, ImageMapEnvVolumesAndRewrites) {
  absl::StatusOr<PodPlan> plan = PlanPod(kPod, Options(), Ref, Map);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->restart_policy, "Never");
  ASSERT_EQ(plan->containers.size(), 1u);
  const ContainerPlan& c = plan->containers[0];
  const std::string scratch = "/root/n1/pods/spark_exec-1_u1/volumes/scratch";
  EXPECT_EQ(c.argv, (std::vector<std::string>{
                        "/bin/executor", "--socket=/root/n1/hostpath/var/lib/shuffle/data.sock",
                        "--scratch", scratch + "/x", "/scratchy"}));
  EXPECT_EQ(EnvOf(c, "NODE"), "n1");
  EXPECT_EQ(EnvOf(c, "HOST_IP"), "127.0.0.1");
  EXPECT_EQ(EnvOf(c, "POD"), "exec-1");
  EXPECT_EQ(EnvOf(c, "ROLE"), "executor");
  EXPECT_EQ(EnvOf(c, "DATA"), "/root/n1/hostpath/var/lib/shuffle");
  EXPECT_EQ(EnvOf(c, "SOCK"), "/root/n1/hostpath/var/lib/shuffle/data.sock");
  EXPECT_EQ(EnvOf(c, "TOKEN"), "t0k");
  EXPECT_EQ(c.ready_port, 7340);
  EXPECT_NE(std::find(plan->directories.begin(), plan->directories.end(), scratch),
            plan->directories.end());
}

TEST(PodPlanTest, AbsoluteCommandsRunAsIs) {
  Json pod = kPod;
  pod["spec"]["containers"][0]["command"] = {"/bin/sh", "-c"};
  pod["spec"]["containers"][0]["args"] = {"exit 3"};
  pod["spec"]["containers"][0].erase("env");
  absl::StatusOr<PodPlan> plan = PlanPod(pod, Options(), Ref, Map);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->containers[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "exit 3"}));
}

TEST(PodPlanTest, WhatCannotBeEmulatedIsNamed) {
  Json unmapped = kPod;
  unmapped["spec"]["containers"][0]["image"] = "other:2";
  absl::StatusOr<PodPlan> plan = PlanPod(unmapped, Options(), Ref, Map);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(plan.status().message().find("other:2"), std::string::npos) << plan.status();

  Json pvc = kPod;
  pvc["spec"]["volumes"].push_back(
      {{"name", "claim"}, {"persistentVolumeClaim", {{"claimName", "c"}}}});
  plan = PlanPod(pvc, Options(), Ref, Map);
  EXPECT_NE(plan.status().message().find("claim"), std::string::npos) << plan.status();

  Json missing_secret = kPod;
  missing_secret["spec"]["containers"][0]["env"][6]["valueFrom"]["secretKeyRef"]["name"] = "nope";
  plan = PlanPod(missing_secret, Options(), Ref, Map);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(plan.status().message().find("container main"), std::string::npos) << plan.status();
}

TEST(PodPlanTest, RewriteOnlyAtPathBoundaries) {
  const std::vector<std::pair<std::string, std::string>> rw = {{"/data/x", "/R2"}, {"/data", "/R"}};
  EXPECT_EQ(RewritePaths("/data", rw), "/R");
  EXPECT_EQ(RewritePaths("/data/x/y", rw), "/R2/y");
  EXPECT_EQ(RewritePaths("/data/y", rw), "/R/y");
  EXPECT_EQ(RewritePaths("/database", rw), "/database");
  EXPECT_EQ(RewritePaths("--dir=/data,/data/z", rw), "--dir=/R,/R/z");
  EXPECT_EQ(RewritePaths("a/data", rw), "a/data");
  EXPECT_EQ(RewritePaths("PATH=/bin:/data", rw), "PATH=/bin:/R");
}

TEST(PodPlanTest, ExpandVarsLikeTheKubelet) {
  const std::vector<std::pair<std::string, std::string>> env = {{"A", "1"}, {"B", "2"}};
  EXPECT_EQ(ExpandVars("$(A)-$(B)-$(C)-$$(A)", env), "1-2-$(C)-$(A)");
}

}  // namespace
}  // namespace shuffle::node_agent

namespace shuffle::node_agent {
namespace {

TEST(PodPlanVolumesTest, ConfigMapAndSecretKeysBecomeFilesAndConfigTextIsRewritten) {
  const Json pod = Json::parse(R"({
    "metadata": {"name": "server-x", "namespace": "shuffle-system", "uid": "u2"},
    "spec": {
      "volumes": [
        {"name": "data", "hostPath": {"path": "/var/lib/shuffle"}},
        {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "secrets", "secret": {"secretName": "sec"}}
      ],
      "containers": [{
        "name": "server", "image": "shuffle/shuffle:0.1.0",
        "args": ["--config=/etc/shuffle/config/server.yaml"],
        "volumeMounts": [
          {"name": "data", "mountPath": "/var/lib/shuffle"},
          {"name": "config", "mountPath": "/etc/shuffle/config"},
          {"name": "secrets", "mountPath": "/etc/shuffle/secrets"}
        ]
      }]
    }
  })");
  PlanOptions options;
  options.node = "n1";
  options.node_root = "/r/n1";
  options.image_map["shuffle/shuffle:0.1.0"] = "/bin/server";
  auto maps = [](const std::string& kind, const std::string& ns,
                 const std::string& name) -> absl::StatusOr<std::map<std::string, std::string>> {
    if (kind == "configmaps" && ns == "shuffle-system" && name == "cfg") {
      return std::map<std::string, std::string>{
          {"server.yaml",
           "data-dirs: [/var/lib/shuffle]\nsecret-file: /etc/shuffle/secrets/token\n"}};
    }
    if (kind == "secrets" && name == "sec") {
      return std::map<std::string, std::string>{{"token", "/var/lib/shuffle stays verbatim"}};
    }
    return absl::NotFoundError(name);
  };
  absl::StatusOr<PodPlan> plan = PlanPod(pod, options, Ref, maps);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string pod_dir = "/r/n1/pods/shuffle-system_server-x_u2";
  ASSERT_EQ(plan->files.size(), 2u);
  EXPECT_EQ(plan->files[0].first, pod_dir + "/volumes/config/server.yaml");
  EXPECT_EQ(plan->files[0].second, "data-dirs: [/r/n1/hostpath/var/lib/shuffle]\nsecret-file: " +
                                       pod_dir + "/volumes/secrets/token\n");
  EXPECT_EQ(plan->files[1].first, pod_dir + "/volumes/secrets/token");
  EXPECT_EQ(plan->files[1].second, "/var/lib/shuffle stays verbatim");
  EXPECT_EQ(plan->containers[0].argv[1], "--config=" + pod_dir + "/volumes/config/server.yaml");
}

// A Secret volume with `items` gets only the keys it names, at the paths it gives (an executor
// pod mounts only the CA of a kubernetes.io/tls Secret, never its key); a key the Secret lacks
// fails the pod.
TEST(PodPlanVolumesTest, ItemsProjectOnlyTheNamedKeys) {
  Json pod = Json::parse(R"({
    "metadata": {"name": "exec-1", "namespace": "jobs", "uid": "u3"},
    "spec": {
      "volumes": [{"name": "ca", "secret": {"secretName": "tls",
                                            "items": [{"key": "ca.crt", "path": "roots.pem"}]}}],
      "containers": [{
        "name": "executor", "image": "shuffle/shuffle:0.1.0",
        "args": ["--tls-ca-file=/etc/ca/roots.pem"],
        "volumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}]
      }]
    }
  })");
  PlanOptions options;
  options.node = "n1";
  options.node_root = "/r/n1";
  options.image_map["shuffle/shuffle:0.1.0"] = "/bin/executor";
  auto maps = [](const std::string& kind, const std::string& ns,
                 const std::string& name) -> absl::StatusOr<std::map<std::string, std::string>> {
    if (kind == "secrets" && ns == "jobs" && name == "tls") {
      return std::map<std::string, std::string>{
          {"ca.crt", "CA"}, {"tls.crt", "CERT"}, {"tls.key", "KEY"}};
    }
    return absl::NotFoundError(name);
  };
  absl::StatusOr<PodPlan> plan = PlanPod(pod, options, Ref, maps);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string pod_dir = "/r/n1/pods/jobs_exec-1_u3";
  ASSERT_EQ(plan->files.size(), 1u);
  EXPECT_EQ(plan->files[0].first, pod_dir + "/volumes/ca/roots.pem");
  EXPECT_EQ(plan->files[0].second, "CA");
  EXPECT_EQ(plan->containers[0].argv[1], "--tls-ca-file=" + pod_dir + "/volumes/ca/roots.pem");

  pod["spec"]["volumes"][0]["secret"]["items"][0]["key"] = "absent.crt";
  plan = PlanPod(pod, options, Ref, maps);
  EXPECT_THAT(plan.status().message(), HasSubstr("absent.crt"));
}

// The downward API's status.podIP is the pod's own address when the agent gives it one (Spark
// executors bind to it), the host IP otherwise; status.hostIP is always the node's.
TEST(PodPlanTest, PodIpIsThePodsOwnAddressWhenGiven) {
  Json pod = kPod;
  pod["spec"]["containers"][0]["env"] = Json::parse(R"([
    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}
  ])");
  PlanOptions options = Options();
  options.host_ip = "127.0.0.31";
  absl::StatusOr<PodPlan> shared = PlanPod(pod, options, Ref, Map);
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(EnvOf(shared->containers[0], "POD_IP"), "127.0.0.31");
  EXPECT_EQ(shared->pod_ip, "127.0.0.31");
  options.pod_ip = "127.1.31.7";
  absl::StatusOr<PodPlan> own = PlanPod(pod, options, Ref, Map);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(EnvOf(own->containers[0], "POD_IP"), "127.1.31.7");
  EXPECT_EQ(EnvOf(own->containers[0], "HOST_IP"), "127.0.0.31");
  EXPECT_EQ(own->pod_ip, "127.1.31.7");
}

}  // namespace
}  // namespace shuffle::node_agent
