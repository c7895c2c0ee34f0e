// ControlService: the shuffle server's control plane (gRPC service shuffle.proto.ShuffleControl)
// over a StorageEngine. It registers applications (app id -> namespace, kept in memory) and
// shuffles, seals and removes them, and reports the node's status: its data directories' usage
// and every application's shuffles, bytes and files.
//
// Authentication is not implemented yet: RegisterApplication returns an empty token and every
// call is accepted. The two seams where it goes are IssueToken() and Authorize().
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
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::security {
class TokenAuthority;
}  // namespace shuffle::security

namespace shuffle::control {

// The namespace of an application that never registered (or whose registration was lost to a
// restart and has no shuffles left to tell).
inline constexpr std::string_view kDefaultNamespace = "default";
// Longest accepted application id and namespace, in bytes.
inline constexpr size_t kMaxAppIdBytes = 256;
inline constexpr size_t kMaxNamespaceBytes = 253;

// The server's version ("0.1.0"), from the CMake project version.
std::string_view ServerVersion();

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
  // The operator secret a driver presents (RegisterApplicationRequest.identity_token) to be
  // given a token. Required when token_authority is set.
  std::string registration_secret;
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

  // The same operations with absl types, callable without gRPC.
  absl::StatusOr<std::string> DoRegisterApplication(const proto::RegisterApplicationRequest& req);
  absl::StatusOr<uint64_t> DoRemoveApplication(const proto::RemoveApplicationRequest& req);
  absl::Status DoRegisterShuffle(const proto::RegisterShuffleRequest& req);
  absl::Status DoSealShuffle(const proto::SealShuffleRequest& req);
  absl::StatusOr<uint64_t> DoRemoveShuffle(const proto::RemoveShuffleRequest& req);
  proto::GetStatusResponse DoGetStatus() const;

  // RPCs being handled now (ControlServer waits for them to finish at shutdown).
  int64_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }

 private:
  // Counts one RPC in in_flight() for its lifetime.
  class InFlight {
   public:
    explicit InFlight(std::atomic<int64_t>* count) : count_(count) {
      count_->fetch_add(1, std::memory_order_acq_rel);
    }
    ~InFlight() { count_->fetch_sub(1, std::memory_order_acq_rel); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    std::atomic<int64_t>* count_;
  };

  // AUTH SEAM (registration): the token an application presents on later calls, given the
  // identity it proved. Today: checks nothing and returns "" (unauthenticated).
  absl::StatusOr<std::string> IssueToken(const std::string& app_id,
                                         const std::string& namespace_name,
                                         const std::string& identity_token) const;
  // AUTH SEAM (every other call): validates the credentials' app id; will verify the token.
  absl::Status Authorize(const proto::Credentials& credentials, std::string_view call) const;

  // The namespace `app_id` registered with; else that of one of its shuffles in the engine (a
  // registration lost to a restart); else kDefaultNamespace.
  std::string NamespaceOf(const std::string& app_id) const;
  // The namespace of an application's shuffles in the engine, or "" when it has none.
  std::string EngineNamespaceOf(const std::string& app_id) const;

  storage::StorageEngine* const engine_;
  const ControlServiceOptions options_;

  std::atomic<int64_t> in_flight_{0};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> namespaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::control

#endif  // SHUFFLE_SERVER_CONTROL_CONTROL_SERVICE_H_
