// KubeSuite: the gtest fixture of suites that share one control plane. It is started once per
// test suite (a suite that needs more, such as node agents, calls KubeSuite::SetUpTestSuite()
// first in its own), each test gets a namespace of its own (ns_), and a failing test keeps the
// environment's directory (logs, etcd data) for a post-mortem.
#ifndef SHUFFLE_TESTS_K8S_KUBE_SUITE_H_
#define SHUFFLE_TESTS_K8S_KUBE_SUITE_H_

#include <iostream>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/k8s/testenv.h"

namespace shuffle::k8stest {

class KubeSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<KubeTestEnv>> env = KubeTestEnv::Start();
    if (env.ok()) {
      suite_env = std::move(*env).release();
    } else {
      suite_error = new absl::Status(env.status());
    }
  }
  static void TearDownTestSuite() {
    delete suite_env;
    suite_env = nullptr;
    delete suite_error;
    suite_error = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(suite_error, nullptr) << *suite_error;
    ns_ = UniqueName(::testing::UnitTest::GetInstance()->current_test_info()->name());
    kube::ResourcePath namespaces;
    namespaces.resource = "namespaces";
    ASSERT_TRUE(admin().Create(namespaces, kube::Json{{"metadata", {{"name", ns_}}}}).ok());
  }
  void TearDown() override {
    if (HasFailure() && suite_env != nullptr) {
      suite_env->KeepDirectory();
      std::cerr << "logs kept in " << suite_env->dir() << "\n";
    }
  }
  static const kube::Client& admin() { return suite_env->admin(); }

  // A new service account `name` in the test namespace and a token for it (TokenRequest API).
  std::string ServiceAccountToken(const std::string& name) {
    EXPECT_TRUE(admin()
                    .Create(kube::ServiceAccounts(ns_), kube::Json{{"metadata", {{"name", name}}}})
                    .ok());
    kube::ResourcePath token = kube::ServiceAccounts(ns_, name);
    token.subresource = "token";
    absl::StatusOr<kube::Json> issued =
        admin().Create(token, kube::Json{{"apiVersion", "authentication.k8s.io/v1"},
                                         {"kind", "TokenRequest"},
                                         {"spec",
                                          {{"audiences", {"https://kubernetes.default.svc"}},
                                           {"expirationSeconds", 600}}}});
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? (*issued)["status"]["token"].get<std::string>() : "";
  }

  static inline KubeTestEnv* suite_env = nullptr;
  static inline absl::Status* suite_error = nullptr;
  std::string ns_;
};

}  // namespace shuffle::k8stest

#endif  // SHUFFLE_TESTS_K8S_KUBE_SUITE_H_
