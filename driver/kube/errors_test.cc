#include "driver/kube/errors.h"

#include <gtest/gtest.h>

#include "driver/kube/client.h"

namespace shuffle::kube {
namespace {

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
              {"code", code},     {"reason", reason},   {"message", message}}
      .dump();
}

const RequestContext kListPods{.verb = "list", .resource = "pods", .name = "", .ns = "spark"};

TEST(ErrorsTest, SuccessIsOk) {
  EXPECT_TRUE(StatusFromResponse(kListPods, 200, "{}", "").ok());
  EXPECT_TRUE(StatusFromResponse(kListPods, 201, "{}", "").ok());
}

TEST(ErrorsTest, ForbiddenKeepsTheApiMessageAndNamesTheRequest) {
  const std::string api_message =
      "pods is forbidden: User \"system:serviceaccount:spark:driver\" cannot list resource "
      "\"pods\" in API group \"\" in the namespace \"spark\"";
  const absl::Status s =
      StatusFromResponse(kListPods, 403, StatusBody(403, "Forbidden", api_message), "");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("list pods in namespace spark"), std::string::npos) << s;
  EXPECT_NE(s.message().find(api_message), std::string::npos) << s;
  EXPECT_EQ(HttpCode(s), 403);
  EXPECT_EQ(ApiReason(s), "Forbidden");
  EXPECT_FALSE(IsResourceExpired(s));
}

TEST(ErrorsTest, QuotaIsResourceExhausted) {
  const absl::Status s = StatusFromResponse(
      {.verb = "create", .resource = "pods", .name = "", .ns = "spark"}, 403,
      StatusBody(403, "Forbidden",
                 "pods \"e1\" is forbidden: exceeded quota: q, requested: pods=1"),
      "");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
}

TEST(ErrorsTest, CodesFollowTheHttpStatusAndReason) {
  struct Case {
    int http;
    const char* reason;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {400, "BadRequest", absl::StatusCode::kInvalidArgument},
      {401, "Unauthorized", absl::StatusCode::kUnauthenticated},
      {404, "NotFound", absl::StatusCode::kNotFound},
      {409, "AlreadyExists", absl::StatusCode::kAlreadyExists},
      {409, "Conflict", absl::StatusCode::kAborted},
      {410, "Expired", absl::StatusCode::kOutOfRange},
      {422, "Invalid", absl::StatusCode::kInvalidArgument},
      {429, "TooManyRequests", absl::StatusCode::kUnavailable},
      {500, "InternalError", absl::StatusCode::kUnavailable},
      {503, "ServiceUnavailable", absl::StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    const absl::Status s =
        StatusFromResponse(kListPods, c.http, StatusBody(c.http, c.reason, "m"), "");
    EXPECT_EQ(s.code(), c.code) << c.http << " " << c.reason << ": " << s;
    EXPECT_EQ(HttpCode(s), c.http);
  }
}

TEST(ErrorsTest, RetryAfterFromHeaderOrDetails) {
  const absl::Status header = StatusFromResponse(kListPods, 429, "too many", "7");
  EXPECT_EQ(header.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(RetryAfter(header), absl::Seconds(7));
  EXPECT_NE(header.message().find("too many"), std::string::npos);

  Json body = Json::parse(StatusBody(500, "ServerTimeout", "slow"));
  body["details"] = {{"retryAfterSeconds", 2}};
  const absl::Status details = StatusFromResponse(kListPods, 500, body.dump(), "");
  EXPECT_EQ(RetryAfter(details), absl::Seconds(2));
  EXPECT_EQ(RetryAfter(StatusFromResponse(kListPods, 404, "", "")), std::nullopt);
}

TEST(ErrorsTest, WatchErrorEventWith410IsRecognisedAsExpired) {
  const Json event_object =
      Json::parse(StatusBody(410, "Expired", "too old resource version: 5 (1234)"));
  const absl::Status s = StatusFromApiStatus(
      {.verb = "watch", .resource = "pods", .name = "", .ns = "spark"}, event_object);
  EXPECT_TRUE(IsResourceExpired(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("too old resource version"), std::string::npos);
  EXPECT_FALSE(IsResourceExpired(absl::OutOfRangeError("not from the API")));
}

TEST(ErrorsTest, NonStatusBodiesAreKeptShort) {
  const absl::Status s = StatusFromResponse(kListPods, 502, std::string(1000, 'x'), "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(s.message().size(), 400u);
}

TEST(ResourcePathTest, Urls) {
  EXPECT_EQ(Pods("ns", "p").Url(), "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ(Nodes().Url(), "/api/v1/nodes");
  ResourcePath status = Pods("ns", "p");
  status.subresource = "status";
  EXPECT_EQ(status.Url(), "/api/v1/namespaces/ns/pods/p/status");
  EXPECT_EQ(status.Context("patch").Describe(), "patch pods/status \"p\" in namespace ns");
  EXPECT_EQ(DaemonSets("x").Url(), "/apis/apps/v1/namespaces/x/daemonsets");
  EXPECT_EQ(UrlEncode("spec.nodeName=n 1,a/b"), "spec.nodeName%3Dn%201%2Ca%2Fb");
}

}  // namespace
}  // namespace shuffle::kube
