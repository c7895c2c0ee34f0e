// shuffle::kube against a real kube-apiserver v1.20.2 (tools/k8s/start).
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "driver/kube/client.h"
#include "driver/kube/http.h"
#include "shuffle/core/endpoint.h"
#include "tests/k8s/kube_suite.h"

namespace shuffle::kube {
namespace {

class KubeClientTest : public k8stest::KubeSuite {
 protected:
  static Json ConfigMap(const std::string& name, const std::string& value) {
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}, {"labels", {{"app", "kt"}}}}},
                {"data", {{"k", value}}}};
  }
};

TEST_F(KubeClientTest, ConfigMapCrud) {
  absl::StatusOr<Json> created = admin().Create(ConfigMaps(ns_), ConfigMap("a", "1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(admin().Create(ConfigMaps(ns_), ConfigMap("a", "1")).status().code(),
            absl::StatusCode::kAlreadyExists);

  absl::StatusOr<Json> got = admin().Get(ConfigMaps(ns_, "a"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["k"], "1");

  absl::StatusOr<Json> merged =
      admin().Patch(ConfigMaps(ns_, "a"), PatchType::kMerge, Json{{"data", {{"m", "2"}}}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  absl::StatusOr<Json> strategic =
      admin().Patch(ConfigMaps(ns_, "a"), PatchType::kStrategicMerge, Json{{"data", {{"s", "3"}}}});
  ASSERT_TRUE(strategic.ok()) << strategic.status();
  EXPECT_EQ((*strategic)["data"], (Json{{"k", "1"}, {"m", "2"}, {"s", "3"}}));

  const std::string manifest = absl::StrCat(
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
      "  namespace: ",
      ns_, "\ndata:\n  applied: \"yes\"\n");
  absl::StatusOr<Json> applied = admin().Apply(
      ConfigMaps(ns_, "b"), manifest, {.field_manager = "kube-client-test", .force = true});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ((*applied)["data"]["applied"], "yes");

  // A stale resourceVersion on replace is a conflict.
  Json stale = *got;
  stale["data"]["k"] = "stale";
  EXPECT_EQ(admin().Replace(ConfigMaps(ns_, "a"), stale).status().code(),
            absl::StatusCode::kAborted);
  Json fresh = *strategic;
  fresh["data"]["k"] = "replaced";
  ASSERT_TRUE(admin().Replace(ConfigMaps(ns_, "a"), fresh).ok());

  ASSERT_TRUE(admin().Delete(ConfigMaps(ns_, "a"), {}).ok());
  const absl::Status gone = admin().Get(ConfigMaps(ns_, "a")).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(gone.message().find("get configmaps \"a\" in namespace " + ns_), std::string::npos)
      << gone;
}

TEST_F(KubeClientTest, ListThenWatchResumesWithoutRepeats) {
  for (const char* name : {"c1", "c2"}) {
    ASSERT_TRUE(admin().Create(ConfigMaps(ns_), ConfigMap(name, "v")).ok());
  }
  absl::StatusOr<ListResult> list = admin().List(
      ConfigMaps(ns_),
      {.label_selector = "app=kt", .field_selector = "", .resource_version = "", .limit = 1});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->items.size(), 2u);  // two pages of one, followed by List
  ASSERT_FALSE(list->resource_version.empty());

  std::vector<std::string> seen;
  WatchOptions watch;
  watch.label_selector = "app=kt";
  watch.resource_version = list->resource_version;
  watch.timeout_seconds = 30;
  absl::StatusOr<std::string> rv;
  std::thread watcher([&] {
    rv = admin().Watch(ConfigMaps(ns_), watch, [&](const WatchEvent& e) {
      seen.push_back(e.type + " " + e.object["metadata"]["name"].get<std::string>());
      return e.object["metadata"]["name"] != "c3";
    });
  });
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(admin().Create(ConfigMaps(ns_), ConfigMap("c3", "v")).ok());
  watcher.join();
  ASSERT_TRUE(rv.ok()) << rv.status();
  EXPECT_EQ(seen, std::vector<std::string>{"ADDED c3"});

  // Resume from the returned resourceVersion: only what happened since.
  ASSERT_TRUE(
      admin().Patch(ConfigMaps(ns_, "c1"), PatchType::kMerge, {{"data", {{"k", "w"}}}}).ok());
  ASSERT_TRUE(admin().Delete(ConfigMaps(ns_, "c2"), {}).ok());
  seen.clear();
  watch.resource_version = *rv;
  absl::StatusOr<std::string> rv2 = admin().Watch(ConfigMaps(ns_), watch, [&](const WatchEvent& e) {
    seen.push_back(e.type + " " + e.object["metadata"]["name"].get<std::string>());
    return e.type != "DELETED";
  });
  ASSERT_TRUE(rv2.ok()) << rv2.status();
  EXPECT_EQ(seen, (std::vector<std::string>{"MODIFIED c1", "DELETED c2"}));
}

TEST_F(KubeClientTest, TooOldResourceVersionIsRecognisedAsExpired) {
  ASSERT_TRUE(admin().Create(ConfigMaps(ns_), ConfigMap("old", "0")).ok());
  absl::StatusOr<ListResult> list = admin().List(ConfigMaps(ns_), {});
  ASSERT_TRUE(list.ok());
  // Two writes: compacting to the second leaves the first's revision (where the watch would
  // start) compacted. Compacting to exactly the watch's first revision gives a 500 instead
  // ("etcd event received with PrevKv=nil"), as the real server does.
  for (const char* value : {"1", "2"}) {
    ASSERT_TRUE(
        admin().Patch(ConfigMaps(ns_, "old"), PatchType::kMerge, {{"data", {{"k", value}}}}).ok());
  }
  // Compact etcd up to now (through its HTTP gateway), as the API server does every 5 minutes:
  // ConfigMap watches go to etcd directly (tools/k8s/start), so the list's version is now gone.
  Config etcd;
  etcd.server = suite_env->etcd_url();
  const HttpTransport http(etcd);
  absl::StatusOr<HttpResponse> range = http.Perform({.method = "POST",
                                                     .path_and_query = "/v3/kv/range",
                                                     .body = R"({"key":"Lw=="})",
                                                     .content_type = "application/json",
                                                     .timeout = absl::Seconds(10)});
  ASSERT_TRUE(range.ok() && range->code == 200) << range.status() << " " << range->body;
  const std::string revision = Json::parse(range->body)["header"]["revision"].get<std::string>();
  absl::StatusOr<HttpResponse> compacted =
      http.Perform({.method = "POST",
                    .path_and_query = "/v3/kv/compaction",
                    .body = absl::StrCat(R"({"revision":")", revision, R"(","physical":true})"),
                    .content_type = "application/json",
                    .timeout = absl::Seconds(10)});
  ASSERT_TRUE(compacted.ok() && compacted->code == 200) << compacted->body;

  WatchOptions watch;
  watch.resource_version = list->resource_version;
  watch.timeout_seconds = 10;
  int events = 0;
  absl::StatusOr<std::string> rv = admin().Watch(ConfigMaps(ns_), watch, [&](const WatchEvent&) {
    ++events;
    return true;
  });
  ASSERT_FALSE(rv.ok()) << events << " events, no error";
  EXPECT_TRUE(IsResourceExpired(rv.status())) << rv.status();
  EXPECT_EQ(rv.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(events, 0);

  // What the caller does next: list again and watch from there.
  list = admin().List(ConfigMaps(ns_), {});
  ASSERT_TRUE(list.ok());
  watch.resource_version = list->resource_version;
  watch.timeout_seconds = 1;
  EXPECT_TRUE(admin().Watch(ConfigMaps(ns_), watch, [](const WatchEvent&) { return true; }).ok());
}

TEST_F(KubeClientTest, BookmarksArriveWhenAsked) {
  absl::StatusOr<ListResult> list = admin().List(Secrets(ns_), {});
  ASSERT_TRUE(list.ok());
  // Bookmarks come from the watch cache (on for Secrets, off for ConfigMaps: tools/k8s/start).
  WatchOptions watch;
  watch.resource_version = list->resource_version;
  watch.timeout_seconds = 5;  // v1.20 sends a bookmark 2 s before a watch's deadline
  std::string bookmark_rv;
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(500));
    EXPECT_TRUE(admin().Create(Secrets(ns_), Json{{"metadata", {{"name", "bm"}}}}).ok());
  });
  absl::StatusOr<std::string> rv = admin().Watch(Secrets(ns_), watch, [&](const WatchEvent& e) {
    if (e.type == "BOOKMARK") {
      bookmark_rv = e.resource_version;
      return false;
    }
    return true;
  });
  writer.join();
  ASSERT_TRUE(rv.ok()) << rv.status();
  EXPECT_FALSE(bookmark_rv.empty()) << "no BOOKMARK event within the watch";
  EXPECT_EQ(*rv, bookmark_rv);
}

TEST_F(KubeClientTest, ForbiddenNamesTheVerbResourceAndNamespace) {
  Config config = suite_env->AdminConfig();
  config.bearer_token = ServiceAccountToken("nobody");
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Open(config);
  ASSERT_TRUE(client.ok());
  const absl::Status denied = (*client)->List(Pods(ns_), {}).status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  EXPECT_EQ(HttpCode(denied), 403);
  for (const std::string& part :
       {std::string("list pods in namespace ") + ns_, std::string("cannot list resource \"pods\""),
        absl::StrCat("system:serviceaccount:", ns_, ":nobody")}) {
    EXPECT_NE(denied.message().find(part), std::string::npos) << part << " not in: " << denied;
  }
}

TEST_F(KubeClientTest, InClusterConfigWithServiceAccountTokens) {
  const std::string token = ServiceAccountToken("reader");
  // RBAC: the reader may list ConfigMaps in its namespace, nothing else.
  const Json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                     {"kind", "Role"},
                     {"metadata", {{"name", "cm-reader"}}},
                     {"rules",
                      {{{"apiGroups", {""}},
                        {"resources", {"configmaps"}},
                        {"verbs", {"get", "list", "watch"}}}}}};
  const Json binding = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", {{"name", "cm-reader"}}},
      {"roleRef",
       {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "cm-reader"}}},
      {"subjects", {{{"kind", "ServiceAccount"}, {"name", "reader"}, {"namespace", ns_}}}}};
  const ResourcePath rbac{.api = "apis/rbac.authorization.k8s.io/v1",
                          .ns = ns_,
                          .resource = "roles",
                          .name = "",
                          .subresource = ""};
  ResourcePath bindings = rbac;
  bindings.resource = "rolebindings";
  ASSERT_TRUE(admin().Create(rbac, role).ok());
  ASSERT_TRUE(admin().Create(bindings, binding).ok());

  const std::string sa_dir = suite_env->dir() + "/sa-" + ns_;
  std::filesystem::create_directories(sa_dir);
  std::ofstream(sa_dir + "/token") << token;
  std::filesystem::copy_file(suite_env->ca_file(), sa_dir + "/ca.crt");
  std::ofstream(sa_dir + "/namespace") << ns_;
  // The API server's URL is https://127.0.0.1:PORT.
  absl::StatusOr<core::Endpoint> api =
      core::Endpoint::Parse(std::string_view(suite_env->server()).substr(strlen("https://")));
  ASSERT_TRUE(api.ok()) << api.status();
  const std::string port = std::to_string(api->port());
  absl::StatusOr<Config> config =
      LoadInClusterConfig({.service_account_dir = sa_dir, .host = "127.0.0.1", .port = port});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_namespace, ns_);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Open(*config);
  ASSERT_TRUE(client.ok());
  // RBAC changes reach the authorizer's cache within a moment.
  absl::Status listed;
  EXPECT_TRUE(k8stest::Eventually(
      [&] {
        listed = (*client)->List(ConfigMaps(ns_), {}).status();
        return listed.ok();
      },
      absl::Seconds(10)))
      << listed;
  EXPECT_EQ((*client)->List(Pods(ns_), {}).status().code(), absl::StatusCode::kPermissionDenied);

  // The legacy token Secret the token controller creates for the account works as well.
  std::string secret_name;
  ASSERT_TRUE(k8stest::Eventually(
      [&] {
        absl::StatusOr<Json> sa = admin().Get(ServiceAccounts(ns_, "reader"));
        if (sa.ok() && sa->contains("secrets") && !(*sa)["secrets"].empty()) {
          secret_name = (*sa)["secrets"][0]["name"].get<std::string>();
        }
        return !secret_name.empty();
      },
      absl::Seconds(20)));
  absl::StatusOr<Json> secret = admin().Get(Secrets(ns_, secret_name));
  ASSERT_TRUE(secret.ok()) << secret.status();
  std::string legacy;
  ASSERT_TRUE(absl::Base64Unescape((*secret)["data"]["token"].get<std::string>(), &legacy));
  std::ofstream(sa_dir + "/token", std::ios::trunc) << legacy;  // re-read on every request
  EXPECT_TRUE((*client)->List(ConfigMaps(ns_), {}).ok());
}

}  // namespace
}  // namespace shuffle::kube
