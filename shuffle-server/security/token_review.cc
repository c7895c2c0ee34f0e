#include "shuffle-server/security/token_review.h"

#include <utility>

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "driver/kube/errors.h"
#include "shuffle/core/logging.h"

namespace shuffle::security {
namespace {

constexpr absl::string_view kServiceAccountPrefix = "system:serviceaccount:";

std::string TokenKey(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

// What went wrong when this server asked the API server, for the driver and the operator.
absl::Status ApiServerError(const absl::Status& status, const std::string& what) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return absl::FailedPreconditionError(absl::StrCat(
          "this shuffle server cannot check identities: the Kubernetes API server refused its ",
          what,
          " (the server's service account needs \"create\" on tokenreviews and "
          "subjectaccessreviews: deploy/base/rbac.yaml): ",
          message));
    default:
      return absl::UnavailableError(
          absl::StrCat("this shuffle server cannot check identities now: ", what, ": ", message));
  }
}

}  // namespace

absl::Status ParseResourceName(const std::string& text, const std::string& flag,
                               std::string* resource, std::string* group) {
  const std::pair<std::string, std::string> parts = absl::StrSplit(text, absl::MaxSplits('.', 1));
  if (parts.first.empty() || parts.second.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "=", text, ": expected RESOURCE.GROUP, e.g. applications.shuffle.dev"));
  }
  *resource = parts.first;
  *group = parts.second;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TokenReviewer>> TokenReviewer::Create(TokenReviewOptions options) {
  std::string resource;
  std::string group;
  if (!options.required_resource.empty()) {
    if (absl::Status parsed = ParseResourceName(options.required_resource,
                                                "--token-review-resource", &resource, &group);
        !parsed.ok()) {
      return parsed;
    }
  }
  absl::StatusOr<std::unique_ptr<kube::Client>> client = kube::Client::Open(options.api);
  if (!client.ok()) {
    return client.status();
  }
  return std::unique_ptr<TokenReviewer>(new TokenReviewer(std::move(options), std::move(*client),
                                                          std::move(resource), std::move(group)));
}

TokenReviewer::TokenReviewer(TokenReviewOptions options, std::unique_ptr<kube::Client> client,
                             std::string resource, std::string group)
    : options_(std::move(options)),
      client_(std::move(client)),
      resource_(std::move(resource)),
      group_(std::move(group)) {}

absl::StatusOr<ServiceAccountIdentity> TokenReviewer::Review(const std::string& token) const {
  if (token.empty()) {
    return absl::UnauthenticatedError("no service-account token");
  }
  const std::string key = TokenKey(token);
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) {
      ++stats_.cache_hits;
      return it->second.identity;
    }
  }
  absl::StatusOr<ServiceAccountIdentity> identity = AskApiServer(token);
  absl::MutexLock lock(&mu_);
  ++stats_.reviews;
  if (!identity.ok()) {
    ++stats_.refused;
    return identity;
  }
  if (options_.cache_ttl > absl::ZeroDuration()) {
    if (cache_.size() >= options_.cache_capacity) {
      absl::erase_if(cache_, [now](const auto& entry) { return entry.second.expires <= now; });
      if (cache_.size() >= options_.cache_capacity) {
        cache_.clear();  // a burst of distinct tokens: start over rather than grow
      }
    }
    cache_[key] = Entry{*identity, now + options_.cache_ttl};
  }
  return identity;
}

TokenReviewer::Stats TokenReviewer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::StatusOr<ServiceAccountIdentity> TokenReviewer::AskApiServer(const std::string& token) const {
  kube::Json spec = {{"token", token}};
  if (!options_.audiences.empty()) {
    spec["audiences"] = options_.audiences;
  }
  kube::ResourcePath reviews;
  reviews.api = "apis/authentication.k8s.io/v1";
  reviews.resource = "tokenreviews";
  absl::StatusOr<kube::Json> review = client_->Create(
      reviews,
      {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenReview"}, {"spec", spec}});
  if (!review.ok()) {
    return ApiServerError(review.status(), "TokenReview");
  }
  const kube::Json status = review->value("status", kube::Json::object());
  if (!status.value("authenticated", false)) {
    const std::string error = status.value("error", std::string());
    return absl::UnauthenticatedError(absl::StrCat(
        "the Kubernetes API server did not accept the service-account token (forged, expired, "
        "meant for another audience, or its service account is gone)",
        error.empty() ? "" : ": ", error));
  }
  const kube::Json user = status.value("user", kube::Json::object());
  const std::string username = user.value("username", std::string());
  absl::string_view rest = username;
  const std::vector<std::string> parts =
      absl::ConsumePrefix(&rest, kServiceAccountPrefix)
          ? std::vector<std::string>(absl::StrSplit(rest, absl::MaxSplits(':', 1)))
          : std::vector<std::string>();
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the token belongs to ", username,
        ", not to a service account: drivers register with their pod's service-account token"));
  }
  ServiceAccountIdentity identity{
      .namespace_name = parts[0], .name = parts[1], .username = username};
  if (!resource_.empty()) {
    if (absl::Status allowed = Authorize(identity, user.value("groups", kube::Json::array()));
        !allowed.ok()) {
      return allowed;
    }
  }
  return identity;
}

absl::Status TokenReviewer::Authorize(const ServiceAccountIdentity& identity,
                                      const kube::Json& groups) const {
  kube::ResourcePath reviews;
  reviews.api = "apis/authorization.k8s.io/v1";
  reviews.resource = "subjectaccessreviews";
  const kube::Json body = {{"apiVersion", "authorization.k8s.io/v1"},
                           {"kind", "SubjectAccessReview"},
                           {"spec",
                            {{"user", identity.username},
                             {"groups", groups},
                             {"resourceAttributes",
                              {{"namespace", identity.namespace_name},
                               {"verb", "create"},
                               {"group", group_},
                               {"resource", resource_}}}}}};
  absl::StatusOr<kube::Json> review = client_->Create(reviews, body);
  if (!review.ok()) {
    return ApiServerError(review.status(), "SubjectAccessReview");
  }
  const kube::Json status = review->value("status", kube::Json::object());
  if (!status.value("allowed", false)) {
    return absl::PermissionDeniedError(
        absl::StrCat("service account ", identity.name, " of namespace ", identity.namespace_name,
                     " may not register applications: grant it \"create\" on ", resource_, ".",
                     group_, " in its namespace (a Role and RoleBinding, docs/security.md)"));
  }
  return absl::OkStatus();
}

}  // namespace shuffle::security
