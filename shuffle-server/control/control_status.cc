// GetStatus: what the node holds, per data directory, namespace, application and shuffle, from
// the storage engine's own accounting.
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::control {

using core::Kv;

std::vector<proto::ApplicationStatus> ControlService::Applications() const {
  std::map<std::string, proto::ApplicationStatus> apps;  // ordered by app id
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [app, ns] : namespaces_) {
      apps[app].set_namespace_(ns);
    }
  }
  for (const storage::ShuffleUsage& usage : engine_->Usage()) {  // ordered by (app, shuffle)
    proto::ApplicationStatus& a = apps[usage.record.app_id];
    if (a.namespace_().empty()) {
      a.set_namespace_(usage.record.namespace_name);
    }
    a.set_shuffles(a.shuffles() + 1);
    a.set_bytes(a.bytes() + usage.disk_bytes);
    a.set_files(a.files() + usage.files);
    proto::ShuffleStatus* s = a.add_shuffle_details();
    s->set_shuffle_id(usage.record.shuffle_id);
    s->set_partitions(usage.record.num_partitions);
    s->set_maps_committed(usage.committed_maps);
    s->set_bytes(usage.disk_bytes);
    s->set_files(usage.files);
    s->set_sealed(usage.record.sealed);
    s->set_stored_bytes(usage.stored_bytes);
    s->set_created_unix_ms(usage.record.created_unix_ms);
  }
  std::vector<proto::ApplicationStatus> out;
  out.reserve(apps.size());
  for (auto& [app, status] : apps) {
    status.set_app_id(app);
    out.push_back(std::move(status));
  }
  return out;
}

void ControlService::AddDirectories(proto::GetStatusResponse* response) const {
  for (const storage::DirectoryUsage& usage : engine_->UsageByDirectory()) {
    proto::DirectoryStatus* d = response->add_directories();
    d->set_path(usage.path);
    d->set_used_bytes(usage.used_bytes);
    d->set_files(usage.files);
    // One unreadable directory must not hide the others: it is reported with zero space.
    absl::StatusOr<storage::DiskSpace> space = options_.env->GetDiskSpace(usage.path);
    if (space.ok()) {
      d->set_free_bytes(space->free_bytes);
      d->set_capacity_bytes(space->capacity_bytes);
    } else {
      SHUFFLE_LOG(WARNING) << "cannot measure data directory for status" << Kv("dir", usage.path)
                           << Kv("error", space.status().ToString());
    }
  }
}

void ControlService::AddNamespaces(const std::vector<proto::ApplicationStatus>& apps,
                                   proto::GetStatusResponse* response) const {
  std::map<std::string, proto::NamespaceStatus> namespaces;
  for (const proto::ApplicationStatus& app : apps) {
    proto::NamespaceStatus& ns = namespaces[app.namespace_()];
    ns.set_applications(ns.applications() + 1);
    ns.set_bytes(ns.bytes() + app.bytes());
    ns.set_files(ns.files() + app.files());
  }
  for (const auto& [name, stored] : engine_->NamespaceUsage()) {
    if (stored > 0 || namespaces.contains(name)) {
      namespaces[name].set_stored_bytes(stored);
    }
  }
  for (auto& [name, ns] : namespaces) {
    ns.set_namespace_(name);
    ns.set_quota_bytes(engine_->NamespaceQuota(name));
    *response->add_namespaces() = std::move(ns);
  }
}

absl::StatusOr<proto::GetStatusResponse> ControlService::DoGetStatus(
    const proto::GetStatusRequest& req) const {
  // An application sees itself only; everything else is an operator's view.
  const bool app_view = !req.has_admin() && !req.credentials().app_id().empty();
  std::string filter = req.app_id();
  if (app_view) {
    SHUFFLE_RETURN_IF_ERROR(Authorize(req.credentials(), "GetStatus"));
    if (!filter.empty() && filter != req.credentials().app_id()) {
      return absl::PermissionDeniedError(
          "GetStatus: application credentials show only that application's status; ask for "
          "it, or present the operator secret");
    }
    filter = req.credentials().app_id();
  } else {
    SHUFFLE_RETURN_IF_ERROR(AuthorizeAdmin(req.admin(), "GetStatus"));
  }
  proto::GetStatusResponse response;
  response.set_node(options_.node_name);
  response.set_version(std::string(ServerVersion()));
  response.set_draining(engine_->draining());
  std::vector<proto::ApplicationStatus> apps = Applications();
  for (proto::ApplicationStatus& app : apps) {
    if (filter.empty() || app.app_id() == filter) {
      *response.add_applications() = app;
    }
  }
  if (app_view) {
    return response;
  }
  if (!filter.empty() && response.applications_size() == 0) {
    return absl::NotFoundError(absl::StrCat("GetStatus: application ", filter,
                                            " has no shuffles and is not registered here"));
  }
  AddDirectories(&response);
  AddNamespaces(apps, &response);
  return response;
}

grpc::Status ControlService::GetStatus(grpc::ServerContext* /*context*/,
                                       const proto::GetStatusRequest* request,
                                       proto::GetStatusResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<proto::GetStatusResponse> status = DoGetStatus(*request);
  if (!status.ok()) {
    return ToGrpcStatus(status.status());
  }
  *response = *std::move(status);
  return grpc::Status::OK;
}

}  // namespace shuffle::control
