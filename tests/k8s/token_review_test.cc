// Drivers proven by their Kubernetes identity, against a real kube-apiserver v1.20.2
// (tools/k8s/start) and a real shuffle-server started with --token-review: the server reviews
// the service-account token a driver registers with (TokenReview), takes the namespace from it,
// and checks the RBAC that lets that service account register (SubjectAccessReview). Refused,
// each with a clear message and nothing registered: a token of another namespace, an expired
// token (signed with the cluster's own service-account key), a forged one (signed with another
// key), a service account without the RBAC, and any token when the server's own service account
// may not review tokens.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "shuffle/client/control_client.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/k8s/kube_suite.h"
#include "tests/support/http.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace shuffle::k8stest {
namespace {

using testing::HasSubstr;
using testsupport::ServerProcess;

constexpr char kOperatorSecret[] = "token-review-operator-secret";
constexpr char kAudience[] = "https://kubernetes.default.svc";

kube::ResourcePath Rbac(const std::string& resource, const std::string& ns = "") {
  kube::ResourcePath path;
  path.api = "apis/rbac.authorization.k8s.io/v1";
  path.resource = resource;
  path.ns = ns;
  return path;
}

// A JWT signed with RS256 by the PEM private key in `key`.
std::string SignJwt(EVP_PKEY* key, const kube::Json& claims) {
  std::string header;
  std::string payload;
  absl::WebSafeBase64Escape(R"({"alg":"RS256","typ":"JWT"})", &header);
  absl::WebSafeBase64Escape(claims.dump(), &payload);
  const std::string input = header + "." + payload;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t size = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  std::string signature(size, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  signature.resize(size);
  std::string encoded;
  absl::WebSafeBase64Escape(signature, &encoded);
  return input + "." + encoded;
}

class TokenReviewTest : public KubeSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(KubeSuite::SetUp());
    std::ofstream(dir_.path() + "/token-secret") << std::string(40, 't') << "\n";
    std::ofstream(dir_.path() + "/operator-secret") << kOperatorSecret << "\n";
    // What every driver's namespace grants its drivers: registering applications.
    ASSERT_TRUE(admin()
                    .Create(Rbac("clusterroles"), {{"metadata", {{"name", ns_ + "-register"}}},
                                                   {"rules",
                                                    {{{"apiGroups", {"shuffle.dev"}},
                                                      {"resources", {"applications"}},
                                                      {"verbs", {"create"}}}}}})
                    .ok());
  }

  // A service account of `ns` and a token for it; with `may_register`, bound to the role above.
  std::string Driver(const std::string& ns, const std::string& name, bool may_register) {
    kube::ResourcePath namespaces;
    namespaces.resource = "namespaces";
    if (ns != ns_) {
      (void)admin().Create(namespaces, {{"metadata", {{"name", ns}}}});
    }
    EXPECT_TRUE(admin().Create(kube::ServiceAccounts(ns), {{"metadata", {{"name", name}}}}).ok());
    if (may_register) {
      EXPECT_TRUE(admin()
                      .Create(Rbac("rolebindings", ns),
                              {{"metadata", {{"name", name + "-register"}}},
                               {"roleRef",
                                {{"apiGroup", "rbac.authorization.k8s.io"},
                                 {"kind", "ClusterRole"},
                                 {"name", ns_ + "-register"}}},
                               {"subjects",
                                {{{"kind", "ServiceAccount"}, {"name", name}, {"namespace", ns}}}}})
                      .ok());
    }
    return Token(ns, name);
  }
  std::string Token(const std::string& ns, const std::string& name) {
    kube::ResourcePath token = kube::ServiceAccounts(ns, name);
    token.subresource = "token";
    absl::StatusOr<kube::Json> issued =
        admin().Create(token, {{"apiVersion", "authentication.k8s.io/v1"},
                               {"kind", "TokenRequest"},
                               {"spec", {{"audiences", {kAudience}}, {"expirationSeconds", 600}}}});
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? (*issued)["status"]["token"].get<std::string>() : "";
  }

  // A shuffle-server reviewing tokens as service account `name` of the test namespace, which
  // may (with `rbac`) create tokenreviews and subjectaccessreviews.
  std::unique_ptr<ServerProcess> StartServer(const std::string& name, bool rbac) {
    EXPECT_TRUE(admin().Create(kube::ServiceAccounts(ns_), {{"metadata", {{"name", name}}}}).ok());
    if (rbac) {
      EXPECT_TRUE(
          admin()
              .Create(Rbac("clusterrolebindings"),
                      {{"metadata", {{"name", ns_ + "-" + name}}},
                       {"roleRef",
                        {{"apiGroup", "rbac.authorization.k8s.io"},
                         {"kind", "ClusterRole"},
                         {"name", "system:auth-delegator"}}},
                       {"subjects",
                        {{{"kind", "ServiceAccount"}, {"name", name}, {"namespace", ns_}}}}})
              .ok());
    }
    const std::string kubeconfig = dir_.path() + "/" + name + ".kubeconfig";
    std::ofstream(kubeconfig) << kube::Json{
        {"apiVersion", "v1"},
        {"kind", "Config"},
        {"clusters",
         {{{"name", "test"},
           {"cluster",
            {{"server", suite_env->server()}, {"certificate-authority", suite_env->ca_file()}}}}}},
        {"users", {{{"name", name}, {"user", {{"token", Token(ns_, name)}}}}}},
        {"contexts", {{{"name", "test"}, {"context", {{"cluster", "test"}, {"user", name}}}}}},
        {"current-context", "test"}};
    auto server = ServerProcess::Start(
        SHUFFLE_SERVER_BINARY, dir_.path() + "/" + name, name, "", "127.0.0.1:0",
        {"--secret-file=" + dir_.path() + "/token-secret",
         "--registration-secret-file=" + dir_.path() + "/operator-secret", "--token-review",
         "--kubeconfig=" + kubeconfig});
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  // The applications the server holds, as the operator sees them: "app@namespace".
  static std::vector<std::string> Applications(const ServerProcess& server) {
    auto channel =
        grpc::CreateChannel(server.control_address(), grpc::InsecureChannelCredentials());
    auto stub = proto::ShuffleControl::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    proto::GetStatusRequest request;
    request.mutable_admin()->set_operator_secret(kOperatorSecret);
    proto::GetStatusResponse response;
    const grpc::Status status = stub->GetStatus(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> apps;
    for (const proto::ApplicationStatus& app : response.applications()) {
      apps.push_back(app.app_id() + "@" + app.namespace_());
    }
    return apps;
  }

  // A counter of the server's /metrics page; -1 when it is missing.
  static double Metric(const ServerProcess& server, const std::string& name) {
    auto endpoint = core::Endpoint::Parse(server.metrics_address());
    EXPECT_TRUE(endpoint.ok());
    absl::StatusOr<std::string> page = testsupport::HttpGetOk(*endpoint, "/metrics");
    EXPECT_TRUE(page.ok()) << page.status();
    for (absl::string_view line : absl::StrSplit(page.ok() ? *page : "", '\n')) {
      if (absl::ConsumePrefix(&line, name + " ")) {
        return std::stod(std::string(line));
      }
    }
    return -1;
  }

  testsupport::TempDir dir_{"shuffle-token-review-"};
};

TEST_F(TokenReviewTest, ADriverRegistersInItsServiceAccountsNamespace) {
  std::unique_ptr<ServerProcess> server = StartServer("server", true);
  ASSERT_NE(server, nullptr);
  const std::string driver = Driver(ns_, "driver", true);
  client::ControlClient control(server->control_address());

  // No namespace in the request: the service account's.
  absl::StatusOr<std::string> token = control.RegisterApplication("app-1", "", driver);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_FALSE(token->empty());
  // Naming its own namespace is the same; the token works for the application's calls.
  absl::StatusOr<std::string> again = control.RegisterApplication("app-1", ns_, driver);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(control.RegisterShuffle("app-1", *token, core::ShuffleId(1), 4, 4).ok());
  EXPECT_EQ(Applications(*server), std::vector<std::string>{"app-1@" + ns_});
  // The second registration was answered from the cache of positive reviews.
  EXPECT_EQ(Metric(*server, "shuffle_token_reviews_total"), 1);
  EXPECT_EQ(Metric(*server, "shuffle_token_review_cache_hits_total"), 1);
  EXPECT_EQ(Metric(*server, "shuffle_token_reviews_refused_total"), 0);
  // The operator secret still registers, in the namespace it names.
  ASSERT_TRUE(control.RegisterApplication("ops-app", "team-ops", kOperatorSecret).ok());
  EXPECT_EQ(Applications(*server), (std::vector<std::string>{"app-1@" + ns_, "ops-app@team-ops"}));
}

TEST_F(TokenReviewTest, ATokenOfAnotherNamespaceIsRefusedForThatNamespace) {
  std::unique_ptr<ServerProcess> server = StartServer("server", true);
  ASSERT_NE(server, nullptr);
  const std::string other_ns = ns_ + "-other";
  const std::string other = Driver(other_ns, "driver", true);
  client::ControlClient control(server->control_address());

  absl::StatusOr<std::string> refused = control.RegisterApplication("app-x", ns_, other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("service account driver of namespace " + other_ns +
                        " cannot register an application in namespace " + ns_));
  EXPECT_TRUE(Applications(*server).empty());
  // In its own namespace it may.
  ASSERT_TRUE(control.RegisterApplication("app-x", "", other).ok());
  EXPECT_EQ(Applications(*server), std::vector<std::string>{"app-x@" + other_ns});
}

TEST_F(TokenReviewTest, ExpiredAndForgedTokensAreRefused) {
  std::unique_ptr<ServerProcess> server = StartServer("server", true);
  ASSERT_NE(server, nullptr);
  const std::string valid = Driver(ns_, "driver", true);
  client::ControlClient control(server->control_address());

  // The claims of a real token, expired an hour ago, signed with the cluster's own key.
  std::vector<std::string> parts = absl::StrSplit(valid, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string decoded;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &decoded));
  kube::Json claims = kube::Json::parse(decoded);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  claims["iat"] = now - 7200;
  claims["nbf"] = now - 7200;
  claims["exp"] = now - 3600;
  FILE* pem = fopen((suite_env->dir() + "/sa.key").c_str(), "r");
  ASSERT_NE(pem, nullptr);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> cluster_key(
      PEM_read_PrivateKey(pem, nullptr, nullptr, nullptr), EVP_PKEY_free);
  fclose(pem);
  ASSERT_NE(cluster_key, nullptr);
  const std::string expired = SignJwt(cluster_key.get(), claims);

  absl::StatusOr<std::string> refused = control.RegisterApplication("app-e", "", expired);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("did not accept the service-account token"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("expired"));
  EXPECT_EQ(std::string(refused.status().message()).find(expired), std::string::npos);

  // Valid claims, signed with a key of the forger's own.
  claims["exp"] = now + 600;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> forger(EVP_RSA_gen(2048), EVP_PKEY_free);
  ASSERT_NE(forger, nullptr);
  refused = control.RegisterApplication("app-f", "", SignJwt(forger.get(), claims));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("did not accept the service-account token"));
  // Not a token at all, and a real token with one character changed.
  refused = control.RegisterApplication("app-g", "", "not-a-token");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  std::string tampered = valid;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  refused = control.RegisterApplication("app-h", "", tampered);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_TRUE(Applications(*server).empty());
}

TEST_F(TokenReviewTest, AServiceAccountWithoutTheRbacIsRefused) {
  std::unique_ptr<ServerProcess> server = StartServer("server", true);
  ASSERT_NE(server, nullptr);
  const std::string stranger = Driver(ns_, "stranger", false);
  client::ControlClient control(server->control_address());

  absl::StatusOr<std::string> refused = control.RegisterApplication("app-s", "", stranger);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("service account stranger of namespace " + ns_ +
                        " may not register applications: grant it \"create\" on "
                        "applications.shuffle.dev"));
  EXPECT_TRUE(Applications(*server).empty());
  // Refusals are not cached: asked again, the API server is asked again.
  EXPECT_FALSE(control.RegisterApplication("app-s", "", stranger).ok());
  EXPECT_EQ(Metric(*server, "shuffle_token_reviews_total"), 2);
  EXPECT_EQ(Metric(*server, "shuffle_token_reviews_refused_total"), 2);
}

TEST_F(TokenReviewTest, AServerWhoseServiceAccountMayNotReviewRefusesWithItsReason) {
  std::unique_ptr<ServerProcess> server = StartServer("server-without-rbac", false);
  ASSERT_NE(server, nullptr);
  const std::string driver = Driver(ns_, "driver", true);
  client::ControlClient control(server->control_address());

  absl::StatusOr<std::string> refused = control.RegisterApplication("app-r", "", driver);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("this shuffle server cannot check identities"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("tokenreviews"));
  EXPECT_TRUE(Applications(*server).empty());
}

}  // namespace
}  // namespace shuffle::k8stest
