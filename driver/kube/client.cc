#include "driver/kube/client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "driver/kube/http.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::kube {
namespace {

// Serialises without throwing: invalid UTF-8 is replaced rather than raised.
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<Json> ParseBody(const RequestContext& context, std::string_view body) {
  if (body.empty()) {
    return Json::object();
  }
  Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(absl::StrCat(
        context.Describe(),
        ": the API server's response is not JSON: ", core::ToAbsl(body.substr(0, 200))));
  }
  return parsed;
}

std::string ResourceVersionOf(const Json& object) {
  if (!object.is_object()) {
    return "";
  }
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return "";
  }
  const auto rv = meta->find("resourceVersion");
  return rv != meta->end() && rv->is_string() ? rv->get<std::string>() : "";
}

void AddParam(std::string* query, std::string_view key, std::string_view value) {
  if (value.empty()) {
    return;
  }
  absl::StrAppend(query, query->empty() ? "?" : "&", core::ToAbsl(key), "=", UrlEncode(value));
}

Json DeleteBody(const DeleteOptions& options) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (options.grace_period_seconds.has_value()) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  if (!options.uid.empty()) {
    body["preconditions"] = {{"uid", options.uid}};
  }
  return body;
}

ResourcePath Make(std::string api, std::string_view ns, std::string resource,
                  std::string_view name) {
  ResourcePath path;
  path.api = std::move(api);
  path.ns = std::string(ns);
  path.resource = std::move(resource);
  path.name = std::string(name);
  return path;
}

HttpRequest MakeRequest(std::string method, std::string path_and_query, std::string body = "",
                        std::string content_type = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.path_and_query = std::move(path_and_query);
  request.body = std::move(body);
  request.content_type = std::move(content_type);
  return request;
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ResourcePath::Url() const {
  std::string url = absl::StrCat("/", api);
  if (!ns.empty()) {
    absl::StrAppend(&url, "/namespaces/", ns);
  }
  absl::StrAppend(&url, "/", resource);
  if (!name.empty()) {
    absl::StrAppend(&url, "/", name);
  }
  if (!subresource.empty()) {
    absl::StrAppend(&url, "/", subresource);
  }
  return url;
}

RequestContext ResourcePath::Context(std::string_view verb) const {
  RequestContext context;
  context.verb = std::string(verb);
  context.resource = subresource.empty() ? resource : absl::StrCat(resource, "/", subresource);
  context.name = name;
  context.ns = ns;
  return context;
}

ResourcePath Pods(std::string_view ns, std::string_view name) {
  return Make("api/v1", ns, "pods", name);
}
ResourcePath Nodes(std::string_view name) { return Make("api/v1", "", "nodes", name); }
ResourcePath ConfigMaps(std::string_view ns, std::string_view name) {
  return Make("api/v1", ns, "configmaps", name);
}
ResourcePath Secrets(std::string_view ns, std::string_view name) {
  return Make("api/v1", ns, "secrets", name);
}
ResourcePath ServiceAccounts(std::string_view ns, std::string_view name) {
  return Make("api/v1", ns, "serviceaccounts", name);
}
ResourcePath DaemonSets(std::string_view ns, std::string_view name) {
  return Make("apis/apps/v1", ns, "daemonsets", name);
}

class Client::Impl {
 public:
  explicit Impl(const Config& config) : http_(config) {}

  // One request with a JSON response; API errors mapped with `context`.
  absl::StatusOr<Json> Call(const RequestContext& context, HttpRequest request) const {
    if (request.timeout == absl::ZeroDuration()) {
      request.timeout = http_.config().request_timeout;
    }
    SHUFFLE_ASSIGN_OR_RETURN(HttpResponse response, http_.Perform(request));
    SHUFFLE_RETURN_IF_ERROR(
        StatusFromResponse(context, response.code, response.body, response.retry_after));
    return ParseBody(context, response.body);
  }

  const HttpTransport& http() const { return http_; }

 private:
  HttpTransport http_;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Open(const Config& config) {
  if (config.server.empty()) {
    return absl::InvalidArgumentError("Kubernetes client: no API server address in the config");
  }
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(config)));
}

const Config& Client::config() const { return impl_->http().config(); }

absl::StatusOr<Json> Client::Get(const ResourcePath& path) const {
  return impl_->Call(path.Context("get"), MakeRequest("GET", path.Url()));
}

absl::StatusOr<ListResult> Client::List(const ResourcePath& path,
                                        const ListOptions& options) const {
  ListResult result;
  std::string continue_token;
  for (;;) {
    std::string query;
    AddParam(&query, "labelSelector", options.label_selector);
    AddParam(&query, "fieldSelector", options.field_selector);
    if (continue_token.empty()) {
      AddParam(&query, "resourceVersion", options.resource_version);
    }
    if (options.limit > 0) {
      AddParam(&query, "limit", std::to_string(options.limit));
    }
    AddParam(&query, "continue", continue_token);
    SHUFFLE_ASSIGN_OR_RETURN(
        Json list,
        impl_->Call(path.Context("list"), MakeRequest("GET", absl::StrCat(path.Url(), query))));
    if (const auto items = list.find("items"); items != list.end() && items->is_array()) {
      for (Json& item : *items) {
        result.items.push_back(std::move(item));
      }
    }
    result.resource_version = ResourceVersionOf(list);
    continue_token.clear();
    if (const auto meta = list.find("metadata"); meta != list.end() && meta->is_object()) {
      if (const auto c = meta->find("continue"); c != meta->end() && c->is_string()) {
        continue_token = c->get<std::string>();
      }
    }
    if (continue_token.empty()) {
      return result;
    }
  }
}

absl::StatusOr<std::string> Client::Watch(const ResourcePath& path, const WatchOptions& options,
                                          const WatchCallback& callback) const {
  const RequestContext context = path.Context("watch");
  std::string query;
  AddParam(&query, "watch", "true");
  AddParam(&query, "labelSelector", options.label_selector);
  AddParam(&query, "fieldSelector", options.field_selector);
  AddParam(&query, "resourceVersion", options.resource_version);
  AddParam(&query, "allowWatchBookmarks", options.allow_bookmarks ? "true" : "");
  if (options.timeout_seconds > 0) {
    AddParam(&query, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  HttpRequest request = MakeRequest("GET", absl::StrCat(path.Url(), query));
  if (options.timeout_seconds > 0) {
    request.timeout = absl::Seconds(options.timeout_seconds + 30);
  }

  std::string buffer;
  std::string last_rv = options.resource_version;
  absl::Status event_status;  // an ERROR event or a malformed line
  bool stopped_by_callback = false;
  const auto on_data = [&](std::string_view chunk) {
    buffer.append(chunk);
    size_t start = 0;
    for (size_t nl = buffer.find('\n', start); nl != std::string::npos;
         nl = buffer.find('\n', start)) {
      const std::string_view line(buffer.data() + start, nl - start);
      start = nl + 1;
      if (line.empty()) {
        continue;
      }
      Json event = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) {
        event_status = absl::InternalError(absl::StrCat(
            context.Describe(), ": malformed watch event: ", core::ToAbsl(line.substr(0, 200))));
        return false;
      }
      WatchEvent e;
      e.type = event["type"].get<std::string>();
      e.object = std::move(event["object"]);
      if (e.type == "ERROR") {
        event_status = StatusFromApiStatus(context, e.object);
        return false;
      }
      e.resource_version = ResourceVersionOf(e.object);
      if (!e.resource_version.empty()) {
        last_rv = e.resource_version;
      }
      if (!callback(e)) {
        stopped_by_callback = true;
        return false;
      }
    }
    buffer.erase(0, start);
    return true;
  };
  absl::StatusOr<HttpResponse> response = impl_->http().Stream(request, on_data, options.cancel);
  if (!event_status.ok()) {
    return event_status;
  }
  if (stopped_by_callback) {
    return last_rv;
  }
  if (!response.ok()) {
    return response.status();
  }
  SHUFFLE_RETURN_IF_ERROR(
      StatusFromResponse(context, response->code, response->body, response->retry_after));
  return last_rv;
}

absl::StatusOr<Json> Client::Create(const ResourcePath& collection, const Json& object) const {
  return impl_->Call(collection.Context("create"),
                     MakeRequest("POST", collection.Url(), Dump(object), "application/json"));
}

absl::StatusOr<Json> Client::Replace(const ResourcePath& path, const Json& object) const {
  return impl_->Call(path.Context("update"),
                     MakeRequest("PUT", path.Url(), Dump(object), "application/json"));
}

absl::StatusOr<Json> Client::Delete(const ResourcePath& path, const DeleteOptions& options) const {
  return impl_->Call(
      path.Context("delete"),
      MakeRequest("DELETE", path.Url(), Dump(DeleteBody(options)), "application/json"));
}

absl::StatusOr<Json> Client::Patch(const ResourcePath& path, PatchType type,
                                   const Json& patch) const {
  const char* content_type = "application/merge-patch+json";
  if (type == PatchType::kStrategicMerge) {
    content_type = "application/strategic-merge-patch+json";
  } else if (type == PatchType::kJson) {
    content_type = "application/json-patch+json";
  }
  return impl_->Call(path.Context("patch"),
                     MakeRequest("PATCH", path.Url(), Dump(patch), content_type));
}

absl::StatusOr<Json> Client::Apply(const ResourcePath& path, std::string_view manifest,
                                   const ApplyOptions& options) const {
  if (options.field_manager.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path.Context("apply").Describe(),
                                                   ": server-side apply needs a field manager"));
  }
  std::string query;
  AddParam(&query, "fieldManager", options.field_manager);
  AddParam(&query, "force", options.force ? "true" : "");
  return impl_->Call(path.Context("apply"),
                     MakeRequest("PATCH", absl::StrCat(path.Url(), query), std::string(manifest),
                                 "application/apply-patch+yaml"));
}

absl::Status Client::Evict(std::string_view ns, std::string_view pod,
                           const DeleteOptions& options) const {
  ResourcePath path = Pods(ns, pod);
  path.subresource = "eviction";
  const Json body = {{"apiVersion", "policy/v1beta1"},
                     {"kind", "Eviction"},
                     {"metadata", {{"name", pod}, {"namespace", ns}}},
                     {"deleteOptions", DeleteBody(options)}};
  return Create(path, body).status();
}

absl::Status Client::Bind(std::string_view ns, std::string_view pod, std::string_view node) const {
  ResourcePath path = Pods(ns, pod);
  path.subresource = "binding";
  const Json body = {{"apiVersion", "v1"},
                     {"kind", "Binding"},
                     {"metadata", {{"name", pod}, {"namespace", ns}}},
                     {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  return Create(path, body).status();
}

}  // namespace shuffle::kube
