// Shared by the control-plane tests: a real storage engine in a temporary directory, the
// ControlServer on 127.0.0.1:0 (open, or secured with tokens and an operator secret), a gRPC
// client stub, and health checks over the wire: a generic (untyped) call to
// grpc.health.v1.Health/Check, hand-encoding its two tiny messages, because Debian's grpc++ ships
// no generated health client. In the TLS run (tests/support/tls_run.h) the server and the stub
// speak TLS. Test code; not thread-safe.
#ifndef SHUFFLE_SERVER_CONTROL_CONTROL_TEST_UTIL_H_
#define SHUFFLE_SERVER_CONTROL_CONTROL_TEST_UTIL_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "shuffle-server/control/control_server.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle-server/control/drainer.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::control::testing {

inline constexpr size_t kBlockSize = 100 << 10;  // above SmallOptions' direct_block_bytes

// grpc.health.v1.HealthCheckResponse.ServingStatus, and kError when the call failed.
enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3, kError = -1 };

// Calls grpc.health.v1.Health/Check for `service`.
inline Health CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response).ok()) {
    return Health::kError;
  }
  return static_cast<Health>(response.status());
}

inline proto::Credentials Creds(const std::string& app, const std::string& token = "") {
  proto::Credentials c;
  c.set_app_id(app);
  c.set_token(token);
  return c;
}

class ControlTest : public ::testing::Test {
 protected:
  static constexpr char kOperatorSecret[] = "operator-secret-for-the-control-tests";
  static constexpr char kTokenSecret[] = "cluster-token-secret-of-at-least-32-bytes";

  void SetUp() override { StartServer(/*secured=*/false); }

  // A server on 127.0.0.1:0 over a fresh engine; `secured`: application tokens and the operator
  // secret are required. Draining turns health NOT_SERVING, as in the real server.
  void StartServer(bool secured) {
    ASSERT_FALSE(dir_.path().empty());
    storage::EngineOptions options = storage::testing::SmallOptions(dir_.path());
    absl::StatusOr<std::unique_ptr<storage::StorageEngine>> engine =
        storage::StorageEngine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    drainer_ = std::make_unique<Drainer>(engine_.get(), absl::Seconds(10));
    ControlServiceOptions service_options;
    service_options.node_name = "node-a";
    service_options.data_dirs = options.data_dirs;
    service_options.drainer = drainer_.get();
    if (secured) {
      absl::StatusOr<std::unique_ptr<security::TokenAuthority>> tokens =
          security::TokenAuthority::Create(kTokenSecret);
      ASSERT_TRUE(tokens.ok()) << tokens.status();
      tokens_ = *std::move(tokens);
      service_options.token_authority = tokens_.get();
      service_options.registration_secret = kOperatorSecret;
    }
    service_ = std::make_unique<ControlService>(engine_.get(), service_options);
    absl::StatusOr<std::unique_ptr<ControlServer>> server =
        ControlServer::Start("127.0.0.1:0", service_.get(), testsupport::RunServerTls());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_NE(server_->port(), 0);
    drainer_->OnStart([server = server_.get()] { server->SetServing(false); });
    channel_ = *tls::NewGrpcChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                    testsupport::RunClientTls());
    stub_ = proto::ShuffleControl::NewStub(channel_);
  }

  void TearDown() override {
    stub_.reset();
    channel_.reset();
    server_.reset();
    service_.reset();
    drainer_.reset();
    engine_.reset();
  }

  grpc::Status RegisterApp(const std::string& app, const std::string& ns,
                           std::string* token = nullptr, const std::string& identity = "") {
    proto::RegisterApplicationRequest request;
    request.set_app_id(app);
    request.set_namespace_(ns);
    request.set_identity_token(identity);
    proto::RegisterApplicationResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->RegisterApplication(&context, request, &response);
    if (token != nullptr) {
      *token = response.token();
    }
    return status;
  }

  grpc::Status RegisterShuffle(const std::string& app, uint32_t shuffle, uint32_t partitions,
                               const std::string& token = "") {
    proto::RegisterShuffleRequest request;
    *request.mutable_credentials() = Creds(app, token);
    request.set_shuffle_id(shuffle);
    request.set_num_maps(4);
    request.set_num_partitions(partitions);
    proto::RegisterShuffleResponse response;
    grpc::ClientContext context;
    return stub_->RegisterShuffle(&context, request, &response);
  }

  proto::GetStatusResponse Status() {
    proto::GetStatusResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->GetStatus(&context, proto::GetStatusRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Pushes one large block to each partition of map 0 and commits it, through the engine.
  void WriteMap(const std::string& app, uint32_t shuffle, uint32_t partitions) {
    const storage::ShuffleKey key{core::AppId(app), core::ShuffleId(shuffle)};
    std::vector<std::string> data;
    std::vector<storage::PushedBlock> blocks;
    uint64_t bytes = 0;
    data.reserve(partitions);
    for (uint32_t p = 0; p < partitions; ++p) {
      data.push_back(storage::testing::MakeBlock(shuffle, 0, 0, p, p, kBlockSize));
      bytes += data.back().size();
    }
    for (uint32_t p = 0; p < partitions; ++p) {
      blocks.push_back({core::PartitionId(p), data[p]});
    }
    ASSERT_TRUE(engine_->Push(key, core::MapId(0), core::AttemptId(0), blocks).ok());
    absl::StatusOr<storage::CommitResult> commit =
        engine_->Commit(key, storage::CommitRequest{.map = core::MapId(0),
                                                    .attempt = core::AttemptId(0),
                                                    .num_partitions = partitions,
                                                    .expected_blocks = blocks.size(),
                                                    .expected_bytes = bytes});
    ASSERT_TRUE(commit.ok()) << commit.status();
    ASSERT_TRUE(commit->won);
  }

  testsupport::TempDir dir_;
  std::unique_ptr<security::TokenAuthority> tokens_;
  std::unique_ptr<storage::StorageEngine> engine_;
  std::unique_ptr<Drainer> drainer_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<ControlServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::ShuffleControl::Stub> stub_;
};

}  // namespace shuffle::control::testing

#endif  // SHUFFLE_SERVER_CONTROL_CONTROL_TEST_UTIL_H_
