// Mapping of Kubernetes API errors (HTTP status plus a `Status` object in the body, or an ERROR
// watch event) to absl::Status, keeping the API server's own message. Stateless; thread-safe.
//
//   400 INVALID_ARGUMENT     401 UNAUTHENTICATED      403 PERMISSION_DENIED
//   403 "exceeded quota"     RESOURCE_EXHAUSTED       404 NOT_FOUND
//   409 AlreadyExists        ALREADY_EXISTS           409 Conflict   ABORTED
//   410 Gone / Expired       OUT_OF_RANGE, and IsResourceExpired() is true: relist
//   422 INVALID_ARGUMENT     429 and 5xx UNAVAILABLE, with RetryAfter() when the server said
//
// Every error carries the HTTP code (HttpCode()) and the API's reason (ApiReason()) as payloads.
#ifndef SHUFFLE_DRIVER_KUBE_ERRORS_H_
#define SHUFFLE_DRIVER_KUBE_ERRORS_H_

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace shuffle::kube {

// What was being done, for messages: "create pods in namespace default".
struct RequestContext {
  std::string verb;      // "get", "list", "watch", "create", "delete", "patch", "evict", ...
  std::string resource;  // "pods", "pods/status", "nodes", ...
  std::string name;      // empty for collections
  std::string ns;        // empty for cluster-scoped resources
  std::string Describe() const;
};

// `body` is the response body (a Status object when the server sent one); `retry_after` is the
// Retry-After header's value ("" when absent). OK for 2xx.
absl::Status StatusFromResponse(const RequestContext& context, long http_code,
                                std::string_view body, std::string_view retry_after);

// For a watch ERROR event's object (a Status with `code`, `reason`, `message`).
absl::Status StatusFromApiStatus(const RequestContext& context, const nlohmann::json& status);

// True for 410 Gone (a resourceVersion too old to watch or list from): list again, then watch
// from the list's resourceVersion.
bool IsResourceExpired(const absl::Status& status);
// How long the server asked the client to wait (429, 5xx, or a Status's retryAfterSeconds).
std::optional<absl::Duration> RetryAfter(const absl::Status& status);
// The HTTP code of an API error, if the status came from one.
std::optional<int> HttpCode(const absl::Status& status);
// The API's machine-readable reason ("Forbidden", "AlreadyExists", "Expired", ...) or "".
std::string ApiReason(const absl::Status& status);

}  // namespace shuffle::kube

#endif  // SHUFFLE_DRIVER_KUBE_ERRORS_H_
