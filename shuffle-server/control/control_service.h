// ControlService: the shuffle server's control plane (gRPC service shuffle.proto.ShuffleControl)
// over a StorageEngine. It registers applications (app id -> namespace, kept in memory) and
// shuffles, seals and removes them, reports the node's status (data directories, namespaces,
// applications and their shuffles), scrubs a shuffle's data, drains the server and hands its
// data over to peers (Decommission), tells drivers where handed-over outputs went
// (GetMovedOutputs), and adopts a lost node's data from a shared volume (Adopt).
//
// Authorization (see control.proto): with a TokenAuthority, RegisterApplication needs the operator
// secret, or with a TokenReviewer the driver's Kubernetes service-account token (the application's
// namespace is then the service account's, never the request's), and returns a token; calls about
// one application need its token or the operator secret; node-wide calls (GetStatus of every
// application, Drain) need the operator secret: missing credentials are UNAUTHENTICATED, wrong ones
// PERMISSION_DENIED, and both are checked before anything is looked up, so errors never reveal
// another application's data. Without a TokenAuthority the service is open.
//
// Errors are absl::Status inside and grpc::Status on the wire, with the same numeric codes
// (ToGrpcStatus / FromGrpcStatus).
//
// Thread-safety: every method may be called from any thread concurrently (gRPC's sync server
// runs them on its own thread pool).
#ifndef SHUFFLE_SERVER_CONTROL_CONTROL_SERVICE_H_
#define SHUFFLE_SERVER_CONTROL_CONTROL_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/tls/tls_context.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"
#include "shuffle/core/gate.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::security {
class TokenAuthority;
class TokenReviewer;
}  // namespace shuffle::security

namespace shuffle::control {
class Drainer;
}  // namespace shuffle::control

namespace shuffle::handover {
class HandOverProgress;
class MoveLedger;
}  // namespace shuffle::handover

namespace shuffle::adoption {
class Adopter;
}  // namespace shuffle::adoption

namespace shuffle::control {

// The namespace of an application that never registered (or whose registration was lost to a
// restart and has no shuffles left to tell).
inline constexpr std::string_view kDefaultNamespace = "default";
// Longest accepted application id and namespace, in bytes.
inline constexpr size_t kMaxAppIdBytes = 256;
inline constexpr size_t kMaxNamespaceBytes = 253;

// The server's version ("0.1.0"), from the CMake project version.
std::string_view ServerVersion();

// Constant-time comparison of a presented secret; false when `secret` is empty.
bool SecretMatches(const std::string& secret, const std::string& given);

// Same numeric codes on both sides; messages are kept.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

struct ControlServiceOptions {
  // Reported by GetStatus.
  std::string node_name;
  // The engine's data directories (EngineOptions::data_dirs), reported with their usage.
  std::vector<std::string> data_dirs;
  // Where free and capacity bytes come from (statvfs). Must outlive the service.
  storage::Env* env = storage::Env::Default();
  // Issues and checks application tokens; null: unauthenticated. Must outlive the service.
  const security::TokenAuthority* token_authority = nullptr;
  // The operator secret: what a driver presents (RegisterApplicationRequest.identity_token) to
  // be given a token, and an operator (AdminCredentials) for admin calls. Required when
  // token_authority is set.
  std::string registration_secret;
  // On Kubernetes: checks the service-account tokens drivers register with (TokenReview); null:
  // only the operator secret registers. Must outlive the service.
  const security::TokenReviewer* token_reviewer = nullptr;
  // Runs Drain; null: Drain is FAILED_PRECONDITION. Must outlive the service.
  Drainer* drainer = nullptr;
  // Decommission reports its progress here (/metrics, the status page) and records its moves in
  // the ledger, which GetMovedOutputs serves; null: not recorded. Must outlive the service.
  handover::HandOverProgress* handover_progress = nullptr;
  handover::MoveLedger* moves = nullptr;
  // How Decommission reaches the peers' data planes (ca_file empty: plaintext).
  tls::ClientFiles peer_tls;
  // Adopts lost nodes' data directories from the shared volume (--adopt-root); null: Adopt is
  // FAILED_PRECONDITION. Must outlive the service.
  adoption::Adopter* adopter = nullptr;
};

class ControlService final : public proto::ShuffleControl::Service {
 public:
  // `engine` must outlive the service.
  ControlService(storage::StorageEngine* engine, ControlServiceOptions options);

  grpc::Status RegisterApplication(grpc::ServerContext* context,
                                   const proto::RegisterApplicationRequest* request,
                                   proto::RegisterApplicationResponse* response) override;
  grpc::Status RemoveApplication(grpc::ServerContext* context,
                                 const proto::RemoveApplicationRequest* request,
                                 proto::RemoveApplicationResponse* response) override;
  grpc::Status RegisterShuffle(grpc::ServerContext* context,
                               const proto::RegisterShuffleRequest* request,
                               proto::RegisterShuffleResponse* response) override;
  grpc::Status SealShuffle(grpc::ServerContext* context, const proto::SealShuffleRequest* request,
                           proto::SealShuffleResponse* response) override;
  grpc::Status RemoveShuffle(grpc::ServerContext* context,
                             const proto::RemoveShuffleRequest* request,
                             proto::RemoveShuffleResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const proto::GetStatusRequest* request,
                         proto::GetStatusResponse* response) override;
  grpc::Status ScrubShuffle(grpc::ServerContext* context, const proto::ScrubShuffleRequest* request,
                            proto::ScrubShuffleResponse* response) override;
  grpc::Status Drain(grpc::ServerContext* context, const proto::DrainRequest* request,
                     proto::DrainResponse* response) override;
  grpc::Status Decommission(grpc::ServerContext* context, const proto::DecommissionRequest* request,
                            proto::DecommissionResponse* response) override;
  grpc::Status GetMovedOutputs(grpc::ServerContext* context,
                               const proto::GetMovedOutputsRequest* request,
                               proto::GetMovedOutputsResponse* response) override;
  grpc::Status Adopt(grpc::ServerContext* context, const proto::AdoptRequest* request,
                     proto::AdoptResponse* response) override;

  // The same operations with absl types, callable without gRPC.
  absl::StatusOr<std::string> DoRegisterApplication(const proto::RegisterApplicationRequest& req);
  absl::StatusOr<uint64_t> DoRemoveApplication(const proto::RemoveApplicationRequest& req);
  absl::Status DoRegisterShuffle(const proto::RegisterShuffleRequest& req);
  absl::Status DoSealShuffle(const proto::SealShuffleRequest& req);
  absl::StatusOr<uint64_t> DoRemoveShuffle(const proto::RemoveShuffleRequest& req);
  absl::StatusOr<proto::GetStatusResponse> DoGetStatus(const proto::GetStatusRequest& req) const;
  absl::StatusOr<proto::ScrubShuffleResponse> DoScrubShuffle(const proto::ScrubShuffleRequest& req);
  // `rpc_deadline`: the caller's own deadline, if earlier than the requested timeout.
  absl::StatusOr<proto::DrainResponse> DoDrain(const proto::DrainRequest& req,
                                               absl::Time rpc_deadline = absl::InfiniteFuture());
  // Drains, then hands every committed map output over to the peers (shuffle-server/handover).
  absl::StatusOr<proto::DecommissionResponse> DoDecommission(
      const proto::DecommissionRequest& req, absl::Time rpc_deadline = absl::InfiniteFuture());
  absl::StatusOr<proto::GetMovedOutputsResponse> DoGetMovedOutputs(
      const proto::GetMovedOutputsRequest& req) const;
  absl::StatusOr<proto::AdoptResponse> DoAdopt(const proto::AdoptRequest& req);

  // RPCs being handled now (ControlServer waits for them to finish at shutdown).
  const core::Gate& rpcs() const { return rpcs_; }

 private:
  // The namespace a registration may use, given the identity it proves: the operator secret
  // (any namespace, the request's), or a service-account token (its own namespace; a request
  // naming another is PERMISSION_DENIED). The request's namespace when the service is open.
  absl::StatusOr<std::string> VerifyRegistration(
      const proto::RegisterApplicationRequest& req) const;
  // Validates the credentials' app id and verifies its token.
  absl::Status Authorize(const proto::Credentials& credentials, std::string_view call) const;
  // An admin call: the operator secret must match (any secret passes when the service is open).
  absl::Status AuthorizeAdmin(const proto::AdminCredentials& admin, std::string_view call) const;
  // A call about credentials.app_id: by the operator when `admin` is given (a request's admin
  // field is set), else by the application with its token. Sets *as_admin accordingly.
  absl::Status AuthorizeAppOrAdmin(const proto::Credentials& credentials,
                                   const proto::AdminCredentials* admin, std::string_view call,
                                   bool* as_admin = nullptr) const;
  bool open() const { return options_.token_authority == nullptr; }

  // control_status.cc: every application, registered or holding shuffles, by app id.
  std::vector<proto::ApplicationStatus> Applications() const;
  void AddDirectories(proto::GetStatusResponse* response) const;
  void AddNamespaces(const std::vector<proto::ApplicationStatus>& apps,
                     proto::GetStatusResponse* response) const;

  // The namespace `app_id` registered with; else that of one of its shuffles in the engine (a
  // registration lost to a restart); else kDefaultNamespace.
  std::string NamespaceOf(const std::string& app_id) const;
  // The namespace of an application's shuffles in the engine, or "" when it has none.
  std::string EngineNamespaceOf(const std::string& app_id) const;

  storage::StorageEngine* const engine_;
  const ControlServiceOptions options_;

  mutable core::Gate rpcs_;  // every RPC holds a pass while it runs
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> namespaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::control

#endif  // SHUFFLE_SERVER_CONTROL_CONTROL_SERVICE_H_
