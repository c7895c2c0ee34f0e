#include "driver/kube/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/support/temp_dir.h"

namespace shuffle::kube {
namespace {

constexpr char kKubeconfig[] = R"(
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: %CA%
- name: b
  cluster:
    server: https://b.example:443
    certificate-authority: certs/ca.pem
    insecure-skip-tls-verify: true
users:
- name: alice
  user:
    token: tok-alice
- name: bob
  user:
    tokenFile: bob.token
- name: carol
  user:
    exec:
      command: get-token
contexts:
- name: ca
  context: {cluster: a, user: alice, namespace: spark}
- name: cb
  context: {cluster: b, user: bob}
- name: cc
  context: {cluster: a, user: carol}
current-context: ca
)";

std::string WithCa() {
  std::string text = kKubeconfig;
  text.replace(text.find("%CA%"), 4, absl::Base64Escape("PEM-A"));
  return text;
}

using testsupport::TempDir;

TEST(KubeconfigTest, CurrentContextWithInlineCaAndToken) {
  absl::StatusOr<Config> config = ParseKubeconfig(WithCa(), "/x", "", "test");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "PEM-A");
  EXPECT_EQ(config->bearer_token, "tok-alice");
  EXPECT_EQ(config->default_namespace, "spark");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST(KubeconfigTest, NamedContextResolvesFilesRelativeToTheKubeconfig) {
  TempDir dir("kubecfg");
  dir.Write("certs/ca.pem", "PEM-B");
  dir.Write("config", WithCa());
  absl::StatusOr<Config> config = LoadKubeconfig({.path = dir.path() + "/config", .context = "cb"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://b.example:443");
  EXPECT_EQ(config->ca_pem, "PEM-B");
  EXPECT_EQ(config->token_file, dir.path() + "/bob.token");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(KubeconfigTest, ErrorsNameTheProblem) {
  absl::StatusOr<Config> exec = ParseKubeconfig(WithCa(), "", "cc", "cfg");
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(exec.status().message().find("carol"), std::string::npos) << exec.status();

  absl::StatusOr<Config> missing = ParseKubeconfig(WithCa(), "", "nope", "cfg");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos) << missing.status();

  absl::StatusOr<Config> malformed = ParseKubeconfig("clusters: [a, {", "", "", "cfg");
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<Config> no_file =
      LoadKubeconfig({.path = "/nonexistent/kubeconfig", .context = ""});
  EXPECT_EQ(no_file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_file.status().message().find("/nonexistent/kubeconfig"), std::string::npos);
}

TEST(KubeconfigTest, JsonIsAcceptedToo) {
  const std::string json = R"({"clusters":[{"name":"c","cluster":{"server":"https://h:1"}}],
    "users":[{"name":"u","user":{"token":"t"}}],
    "contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],"current-context":"x"})";
  absl::StatusOr<Config> config = ParseKubeconfig(json, "", "", "json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://h:1");
  EXPECT_EQ(config->bearer_token, "t");
}

TEST(InClusterTest, ReadsTheServiceAccountDirectory) {
  TempDir dir("kubecfg");
  dir.Write("token", "sa-token\n");
  dir.Write("ca.crt", "PEM-C");
  dir.Write("namespace", "jobs\n");
  absl::StatusOr<Config> config =
      LoadInClusterConfig({.service_account_dir = dir.path(), .host = "127.0.0.1", .port = "6443"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "PEM-C");
  EXPECT_EQ(config->token_file, dir.path() + "/token");
  EXPECT_EQ(config->default_namespace, "jobs");

  absl::StatusOr<Config> v6 =
      LoadInClusterConfig({.service_account_dir = dir.path(), .host = "fd00::1", .port = "443"});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
}

TEST(InClusterTest, OutsideAPodSaysSo) {
  unsetenv("KUBERNETES_SERVICE_HOST");
  absl::StatusOr<Config> config =
      LoadInClusterConfig({.service_account_dir = "/nonexistent", .host = "", .port = ""});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Config> no_token =
      LoadInClusterConfig({.service_account_dir = "/nonexistent", .host = "h", .port = ""});
  EXPECT_EQ(no_token.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_token.status().message().find("/nonexistent/token"), std::string::npos);
}

}  // namespace
}  // namespace shuffle::kube
