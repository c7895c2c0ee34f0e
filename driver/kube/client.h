// Client: a small Kubernetes REST client over HTTPS (libcurl) with JSON bodies (nlohmann-json):
// get, list, watch, create, replace, delete, patch, server-side apply, eviction and binding on
// any resource path. Errors follow errors.h (the API's message kept, codes mapped).
//
// Thread-safe: every call uses its own connection; a Client may be shared by any number of
// threads, including several long-running watches.
#ifndef SHUFFLE_DRIVER_KUBE_CLIENT_H_
#define SHUFFLE_DRIVER_KUBE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "driver/kube/config.h"
#include "driver/kube/errors.h"

namespace shuffle::kube {

using Json = nlohmann::json;

// A resource collection or object: /{api}/namespaces/{ns}/{resource}/{name}/{subresource}.
struct ResourcePath {
  std::string api = "api/v1";  // "api/v1" or "apis/{group}/{version}"
  std::string ns;              // empty: cluster-scoped, or all namespaces for a list or watch
  std::string resource;        // plural: "pods", "nodes", "configmaps", "daemonsets", ...
  std::string name;            // empty: the collection
  std::string subresource;     // "status", "eviction", "binding", "token", ...

  std::string Url() const;
  RequestContext Context(std::string_view verb) const;
};

// Shorthands for the resources this project uses.
ResourcePath Pods(std::string_view ns, std::string_view name = "");
ResourcePath Nodes(std::string_view name = "");
ResourcePath ConfigMaps(std::string_view ns, std::string_view name = "");
ResourcePath Secrets(std::string_view ns, std::string_view name = "");
ResourcePath ServiceAccounts(std::string_view ns, std::string_view name = "");
ResourcePath DaemonSets(std::string_view ns, std::string_view name = "");

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" : most recent (a quorum read)
  int64_t limit = 0;             // 0: no paging; otherwise List follows `continue` to the end
};

struct ListResult {
  std::vector<Json> items;
  std::string resource_version;  // watch from here to see every later change
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" : start with ADDED events for every existing object
  bool allow_bookmarks = true;
  int64_t timeout_seconds = 0;  // > 0: the server ends the watch after about this long
  const std::atomic<bool>* cancel = nullptr;  // set to true to end the watch (within ~1 s)
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK (ERROR events end the watch instead)
  Json object;
  std::string resource_version;  // the object's metadata.resourceVersion
};

// Return false to end the watch (Watch then returns OK).
using WatchCallback = std::function<bool(const WatchEvent&)>;

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  std::string propagation_policy;  // "", "Foreground", "Background" or "Orphan"
  std::string uid;                 // when set, a precondition: delete only this incarnation
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
  kJson,            // application/json-patch+json (RFC 6902)
};

struct ApplyOptions {
  std::string field_manager;  // required by the API server
  bool force = false;         // take over fields owned by other managers
};

class Client {
 public:
  // Does not contact the server.
  static absl::StatusOr<std::unique_ptr<Client>> Open(const Config& config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<Json> Get(const ResourcePath& path) const;
  absl::StatusOr<ListResult> List(const ResourcePath& path, const ListOptions& options) const;
  // Streams events to `callback` until the server ends the watch (OK), the callback returns
  // false (OK), options.cancel is set (CANCELLED), or an ERROR event arrives (its Status mapped;
  // IsResourceExpired() for 410). Returns the last resourceVersion seen (objects and bookmarks)
  // on OK, so the caller can resume from there.
  absl::StatusOr<std::string> Watch(const ResourcePath& path, const WatchOptions& options,
                                    const WatchCallback& callback) const;
  absl::StatusOr<Json> Create(const ResourcePath& collection, const Json& object) const;
  // PUT: replaces the object (its resourceVersion, when set, is an optimistic-lock precondition).
  absl::StatusOr<Json> Replace(const ResourcePath& path, const Json& object) const;
  // The deleted object, or a Status object when the server returns one.
  absl::StatusOr<Json> Delete(const ResourcePath& path, const DeleteOptions& options) const;
  absl::StatusOr<Json> Patch(const ResourcePath& path, PatchType type, const Json& patch) const;
  // Server-side apply (application/apply-patch+yaml). `manifest` is YAML or JSON text.
  absl::StatusOr<Json> Apply(const ResourcePath& path, std::string_view manifest,
                             const ApplyOptions& options) const;
  // POST pods/{pod}/eviction (policy/v1beta1). UNAVAILABLE (429) when a disruption budget
  // forbids it now.
  absl::Status Evict(std::string_view ns, std::string_view pod, const DeleteOptions& options) const;
  // POST pods/{pod}/binding: assigns the pod to a node, as a scheduler does.
  absl::Status Bind(std::string_view ns, std::string_view pod, std::string_view node) const;

  const Config& config() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A query-string component, percent-encoded.
std::string UrlEncode(std::string_view text);

}  // namespace shuffle::kube

#endif  // SHUFFLE_DRIVER_KUBE_CLIENT_H_
