// TokenReviewer: proves a driver's Kubernetes identity. A driver registers its application with
// its own service-account token; the server asks the API server who that is (TokenReview API),
// takes the namespace from the verified identity (system:serviceaccount:NAMESPACE:NAME), never
// from the request, and, optionally, asks whether that service account may register applications
// in its namespace (a SubjectAccessReview of verb "create" on a resource such as
// "applications.shuffle.dev" that the namespace's Role grants; docs/security.md). Positive answers
// are cached for a short TTL, keyed by the token's SHA-256 (the token itself is never kept or
// logged); refusals are never cached.
//
// The server's own service account needs "create" on tokenreviews (and subjectaccessreviews when
// the RBAC check is on): deploy/base/rbac.yaml. Thread-safe.
#ifndef SHUFFLE_SERVER_SECURITY_TOKEN_REVIEW_H_
#define SHUFFLE_SERVER_SECURITY_TOKEN_REVIEW_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "driver/kube/client.h"

namespace shuffle::security {

// A service account, as the API server vouched for it.
struct ServiceAccountIdentity {
  std::string namespace_name;
  std::string name;
  std::string username;  // "system:serviceaccount:NAMESPACE:NAME"
};

struct TokenReviewOptions {
  kube::Config api;  // how this server reaches the API server (its own service account)
  // The audiences the token must be meant for; empty: the API server's own.
  std::vector<std::string> audiences;
  // How long a positive review is trusted; zero: every registration is reviewed.
  absl::Duration cache_ttl = absl::Seconds(60);
  size_t cache_capacity = 4096;
  // "RESOURCE.GROUP" the driver's service account must be allowed to "create" in its own
  // namespace (SubjectAccessReview); empty: any authenticated service account may register.
  std::string required_resource = "applications.shuffle.dev";
};

// Splits "applications.shuffle.dev" into resource and group; INVALID_ARGUMENT naming `flag`.
absl::Status ParseResourceName(const std::string& text, const std::string& flag,
                               std::string* resource, std::string* group);

class TokenReviewer {
 public:
  // INVALID_ARGUMENT for a malformed required_resource; errors of kube::Client::Open.
  static absl::StatusOr<std::unique_ptr<TokenReviewer>> Create(TokenReviewOptions options);

  // Who `token` belongs to. UNAUTHENTICATED: the API server does not accept the token (forged,
  // expired, for another audience, its service account deleted); PERMISSION_DENIED: not a
  // service account's token, or one whose service account may not register applications;
  // FAILED_PRECONDITION: the API server refuses this server's own reviews (its RBAC or
  // credentials); UNAVAILABLE: the API server cannot be reached. Messages never contain the token.
  absl::StatusOr<ServiceAccountIdentity> Review(const std::string& token) const
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Stats {
    uint64_t reviews = 0;     // TokenReviews sent
    uint64_t cache_hits = 0;  // registrations answered from the cache
    uint64_t refused = 0;     // tokens refused
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TokenReviewer(TokenReviewOptions options, std::unique_ptr<kube::Client> client,
                std::string resource, std::string group);
  absl::StatusOr<ServiceAccountIdentity> AskApiServer(const std::string& token) const;
  absl::Status Authorize(const ServiceAccountIdentity& identity, const kube::Json& groups) const;

  struct Entry {
    ServiceAccountIdentity identity;
    absl::Time expires;
  };
  const TokenReviewOptions options_;
  const std::unique_ptr<kube::Client> client_;
  const std::string resource_;  // empty: no SubjectAccessReview
  const std::string group_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);  // by SHA-256
  mutable Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::security

#endif  // SHUFFLE_SERVER_SECURITY_TOKEN_REVIEW_H_
