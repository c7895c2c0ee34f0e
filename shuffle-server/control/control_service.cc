#include "shuffle-server/control/control_service.h"

#include <utility>

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle-server/security/token_review.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

#ifndef SHUFFLE_VERSION
#define SHUFFLE_VERSION "unknown"
#endif

namespace shuffle::control {
namespace {

using core::Kv;
using core::ToAbsl;

absl::Status CheckAppId(const std::string& app_id, std::string_view call) {
  if (app_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(call), ": the application id is empty; pass the Spark application id"));
  }
  if (app_id.size() > kMaxAppIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(call), ": app id of ", app_id.size(),
                                                   " bytes is longer than the maximum of ",
                                                   kMaxAppIdBytes));
  }
  return absl::OkStatus();
}

}  // namespace

bool SecretMatches(const std::string& secret, const std::string& given) {
  return !secret.empty() && given.size() == secret.size() &&
         CRYPTO_memcmp(given.data(), secret.data(), secret.size()) == 0;
}

std::string_view ServerVersion() { return SHUFFLE_VERSION; }

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  return {static_cast<grpc::StatusCode>(status.code()), std::string(status.message())};
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) {
    return absl::OkStatus();
  }
  return {static_cast<absl::StatusCode>(status.error_code()), status.error_message()};
}

ControlService::ControlService(storage::StorageEngine* engine, ControlServiceOptions options)
    : engine_(engine), options_(std::move(options)) {}

absl::StatusOr<std::string> ControlService::VerifyRegistration(
    const proto::RegisterApplicationRequest& req) const {
  const std::string requested =
      req.namespace_().empty() ? std::string(kDefaultNamespace) : req.namespace_();
  if (open()) {
    return requested;
  }
  const std::string& app_id = req.app_id();
  const security::TokenReviewer* reviewer = options_.token_reviewer;
  if (req.identity_token().empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registering application ", app_id, ": no identity token; present ",
                     reviewer != nullptr ? "the driver's service-account token or " : "",
                     "the operator secret"));
  }
  // The operator (shufflectl, tests, non-Kubernetes drivers) may register in any namespace.
  if (SecretMatches(options_.registration_secret, req.identity_token())) {
    return requested;
  }
  if (reviewer == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("registering application ", app_id, ": the identity token is not valid"));
  }
  absl::StatusOr<security::ServiceAccountIdentity> identity =
      reviewer->Review(req.identity_token());
  if (!identity.ok()) {
    SHUFFLE_LOG(WARNING) << "registration refused" << Kv("app", app_id)
                         << Kv("error", identity.status().ToString());
    return core::Annotate(identity.status(), absl::StrCat("registering application ", app_id));
  }
  // The namespace is the identity's; a request may name it, never another.
  if (!req.namespace_().empty() && req.namespace_() != identity->namespace_name) {
    SHUFFLE_LOG(WARNING) << "registration refused: namespace of another identity"
                         << Kv("app", app_id) << Kv("service_account", identity->username)
                         << Kv("namespace", req.namespace_());
    return absl::PermissionDeniedError(
        absl::StrCat("registering application ", app_id, ": service account ", identity->name,
                     " of namespace ", identity->namespace_name,
                     " cannot register an application in namespace ", req.namespace_()));
  }
  return identity->namespace_name;
}

absl::Status ControlService::Authorize(const proto::Credentials& credentials,
                                       std::string_view call) const {
  SHUFFLE_RETURN_IF_ERROR(CheckAppId(credentials.app_id(), call));
  if (options_.token_authority == nullptr) {
    return absl::OkStatus();
  }
  return core::Annotate(
      options_.token_authority->Verify(credentials.app_id(), credentials.token()).status(),
      std::string(call));
}

absl::Status ControlService::AuthorizeAdmin(const proto::AdminCredentials& admin,
                                            std::string_view call) const {
  if (open()) {
    return absl::OkStatus();
  }
  if (admin.operator_secret().empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat(ToAbsl(call),
                     " is an operator call: present the operator secret (the server's "
                     "--registration-secret-file; shufflectl --secret-file)"));
  }
  if (!SecretMatches(options_.registration_secret, admin.operator_secret())) {
    return absl::PermissionDeniedError(
        absl::StrCat(ToAbsl(call), ": the operator secret is not valid for this server"));
  }
  return absl::OkStatus();
}

absl::Status ControlService::AuthorizeAppOrAdmin(const proto::Credentials& credentials,
                                                 const proto::AdminCredentials* admin,
                                                 std::string_view call, bool* as_admin) const {
  SHUFFLE_RETURN_IF_ERROR(CheckAppId(credentials.app_id(), call));
  if (admin != nullptr) {
    SHUFFLE_RETURN_IF_ERROR(AuthorizeAdmin(*admin, call));
  } else {
    SHUFFLE_RETURN_IF_ERROR(Authorize(credentials, call));
  }
  if (as_admin != nullptr) {
    *as_admin = admin != nullptr;
  }
  return absl::OkStatus();
}

std::string ControlService::EngineNamespaceOf(const std::string& app_id) const {
  for (const storage::ShuffleUsage& usage : engine_->Usage()) {
    if (usage.record.app_id == app_id) {
      return usage.record.namespace_name;
    }
  }
  return "";
}

std::string ControlService::NamespaceOf(const std::string& app_id) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = namespaces_.find(app_id);
    if (it != namespaces_.end()) {
      return it->second;
    }
  }
  std::string from_engine = EngineNamespaceOf(app_id);
  return from_engine.empty() ? std::string(kDefaultNamespace) : from_engine;
}

absl::StatusOr<std::string> ControlService::DoRegisterApplication(
    const proto::RegisterApplicationRequest& req) {
  SHUFFLE_RETURN_IF_ERROR(CheckAppId(req.app_id(), "RegisterApplication"));
  if (req.namespace_().size() > kMaxNamespaceBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RegisterApplication ", req.app_id(), ": namespace of ", req.namespace_().size(),
        " bytes is longer than the maximum of ", kMaxNamespaceBytes));
  }
  SHUFFLE_ASSIGN_OR_RETURN(const std::string ns, VerifyRegistration(req));
  const std::string token =
      open() ? std::string() : options_.token_authority->Issue(req.app_id(), ns);
  // An application keeps its namespace: its shuffles (and later its token) are bound to it.
  std::string existing = EngineNamespaceOf(req.app_id());
  absl::MutexLock lock(&mu_);
  auto it = namespaces_.find(req.app_id());
  if (it != namespaces_.end()) {
    existing = it->second;
  }
  if (!existing.empty() && existing != ns) {
    return absl::AlreadyExistsError(
        absl::StrCat("application ", req.app_id(), " is already registered in namespace ", existing,
                     ", not ", ns, "; use another app id or remove the application first"));
  }
  if (it == namespaces_.end()) {
    namespaces_.emplace(req.app_id(), ns);
    SHUFFLE_LOG(INFO) << "registered application" << Kv("app", req.app_id()) << Kv("namespace", ns);
  }
  return token;
}

absl::StatusOr<uint64_t> ControlService::DoRemoveApplication(
    const proto::RemoveApplicationRequest& req) {
  bool as_admin = false;
  SHUFFLE_RETURN_IF_ERROR(AuthorizeAppOrAdmin(
      req.credentials(), req.has_admin() ? &req.admin() : nullptr, "RemoveApplication", &as_admin));
  const std::string& app = req.credentials().app_id();
  bool registered = false;
  {
    absl::MutexLock lock(&mu_);
    registered = namespaces_.contains(app);
  }
  // An operator is told about a mistyped id; an application removing itself twice is not.
  if (as_admin && !registered && EngineNamespaceOf(app).empty()) {
    return absl::NotFoundError(absl::StrCat("RemoveApplication: application ", app,
                                            " has no shuffles and is not registered here"));
  }
  SHUFFLE_ASSIGN_OR_RETURN(uint64_t freed, engine_->RemoveApplication(core::AppId(app)));
  {
    absl::MutexLock lock(&mu_);
    namespaces_.erase(app);
  }
  SHUFFLE_LOG(INFO) << "removed application" << Kv("app", app) << Kv("freed_bytes", freed);
  return freed;
}

absl::Status ControlService::DoRegisterShuffle(const proto::RegisterShuffleRequest& req) {
  SHUFFLE_RETURN_IF_ERROR(Authorize(req.credentials(), "RegisterShuffle"));
  const std::string& app = req.credentials().app_id();
  if (req.num_partitions() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("RegisterShuffle ", app, "/", req.shuffle_id(),
                                                   ": num_partitions must be at least 1"));
  }
  const std::string ns = NamespaceOf(app);
  SHUFFLE_RETURN_IF_ERROR(engine_->RegisterShuffle(
      storage::ShuffleKey{core::AppId(app), core::ShuffleId(req.shuffle_id())}, ns,
      req.num_partitions()));
  SHUFFLE_LOG(INFO) << "registered shuffle" << Kv("app", app) << Kv("shuffle", req.shuffle_id())
                    << Kv("namespace", ns) << Kv("maps", req.num_maps())
                    << Kv("partitions", req.num_partitions());
  return absl::OkStatus();
}

absl::Status ControlService::DoSealShuffle(const proto::SealShuffleRequest& req) {
  SHUFFLE_RETURN_IF_ERROR(Authorize(req.credentials(), "SealShuffle"));
  const std::string& app = req.credentials().app_id();
  SHUFFLE_RETURN_IF_ERROR(
      engine_->Seal(storage::ShuffleKey{core::AppId(app), core::ShuffleId(req.shuffle_id())}));
  SHUFFLE_LOG(INFO) << "sealed shuffle" << Kv("app", app) << Kv("shuffle", req.shuffle_id());
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ControlService::DoRemoveShuffle(const proto::RemoveShuffleRequest& req) {
  SHUFFLE_RETURN_IF_ERROR(Authorize(req.credentials(), "RemoveShuffle"));
  const std::string& app = req.credentials().app_id();
  return engine_->RemoveShuffle(
      storage::ShuffleKey{core::AppId(app), core::ShuffleId(req.shuffle_id())});
}

grpc::Status ControlService::RegisterApplication(grpc::ServerContext* /*context*/,
                                                 const proto::RegisterApplicationRequest* request,
                                                 proto::RegisterApplicationResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<std::string> token = DoRegisterApplication(*request);
  if (!token.ok()) {
    return ToGrpcStatus(token.status());
  }
  response->set_token(*std::move(token));
  return grpc::Status::OK;
}

grpc::Status ControlService::RemoveApplication(grpc::ServerContext* /*context*/,
                                               const proto::RemoveApplicationRequest* request,
                                               proto::RemoveApplicationResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<uint64_t> freed = DoRemoveApplication(*request);
  if (freed.ok()) {
    response->set_freed_bytes(*freed);
  }
  return ToGrpcStatus(freed.status());
}

grpc::Status ControlService::RegisterShuffle(grpc::ServerContext* /*context*/,
                                             const proto::RegisterShuffleRequest* request,
                                             proto::RegisterShuffleResponse* /*response*/) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  return ToGrpcStatus(DoRegisterShuffle(*request));
}

grpc::Status ControlService::SealShuffle(grpc::ServerContext* /*context*/,
                                         const proto::SealShuffleRequest* request,
                                         proto::SealShuffleResponse* /*response*/) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  return ToGrpcStatus(DoSealShuffle(*request));
}

grpc::Status ControlService::RemoveShuffle(grpc::ServerContext* /*context*/,
                                           const proto::RemoveShuffleRequest* request,
                                           proto::RemoveShuffleResponse* response) {
  const core::Gate::Pass rpc = rpcs_.Hold();
  absl::StatusOr<uint64_t> freed = DoRemoveShuffle(*request);
  if (freed.ok()) {
    response->set_freed_bytes(*freed);
  }
  return ToGrpcStatus(freed.status());
}

}  // namespace shuffle::control
