// The control plane end to end in one process: a real storage engine in a temporary directory,
// the ControlServer on 127.0.0.1:0, and a gRPC client stub. Health is checked over the wire with
// a generic (untyped) call to grpc.health.v1.Health/Check, hand-encoding its two tiny messages,
// because Debian's grpc++ ships no generated health client.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "shuffle-server/control/control_server.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle-server/storage/engine_test_util.h"

namespace shuffle::control {
namespace {

using storage::testing::MakeBlock;
using storage::testing::SmallOptions;
using storage::testing::TempDir;

constexpr size_t kBlockSize = 100 << 10;  // above SmallOptions' direct_block_bytes: own extents

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3, kError = -1 };

// Calls grpc.health.v1.Health/Check for `service`. HealthCheckRequest is {string service = 1},
// HealthCheckResponse {ServingStatus status = 1}: short enough to encode by hand.
Health CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);  // field 1, length-delimited
    request.push_back(static_cast<char>(service.size()));
    request.append(service);
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request_buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  call->Finish(&response_buffer, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  const bool got = cq.Next(&tag, &ok);
  cq.Shutdown();
  void* ignored_tag = nullptr;
  bool ignored_ok = false;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  if (!got || !ok || !status.ok()) {
    return Health::kError;
  }
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) {
    return Health::kError;
  }
  std::string response;
  for (const grpc::Slice& s : slices) {
    response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (response.empty()) {
    return Health::kUnknown;  // proto3: the default value is not sent
  }
  if (response.size() != 2 || response[0] != 0x08) {
    return Health::kError;
  }
  return static_cast<Health>(response[1]);
}

proto::Credentials Creds(const std::string& app) {
  proto::Credentials c;
  c.set_app_id(app);
  return c;
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    storage::EngineOptions options = SmallOptions(dir_.path());
    absl::StatusOr<std::unique_ptr<storage::StorageEngine>> engine =
        storage::StorageEngine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    service_ = std::make_unique<ControlService>(
        engine_.get(),
        ControlServiceOptions{
            .node_name = "node-a", .data_dirs = options.data_dirs, .registration_secret = ""});
    absl::StatusOr<std::unique_ptr<ControlServer>> server =
        ControlServer::Start("127.0.0.1:0", service_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_NE(server_->port(), 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = proto::ShuffleControl::NewStub(channel_);
  }

  void TearDown() override {
    stub_.reset();
    channel_.reset();
    server_.reset();
    service_.reset();
    engine_.reset();
  }

  grpc::Status RegisterApp(const std::string& app, const std::string& ns,
                           std::string* token = nullptr) {
    proto::RegisterApplicationRequest request;
    request.set_app_id(app);
    request.set_namespace_(ns);
    proto::RegisterApplicationResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->RegisterApplication(&context, request, &response);
    if (token != nullptr) {
      *token = response.token();
    }
    return status;
  }

  grpc::Status RegisterShuffle(const std::string& app, uint32_t shuffle, uint32_t partitions) {
    proto::RegisterShuffleRequest request;
    *request.mutable_credentials() = Creds(app);
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
      data.push_back(MakeBlock(shuffle, 0, 0, p, p, kBlockSize));
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

  TempDir dir_;
  std::unique_ptr<storage::StorageEngine> engine_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<ControlServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::ShuffleControl::Stub> stub_;
};

TEST_F(ControlTest, RegistersApplicationAndShuffleIdempotently) {
  std::string token = "unset";
  ASSERT_TRUE(RegisterApp("app-1", "team-a", &token).ok());
  EXPECT_EQ(token, "");  // unauthenticated for now
  EXPECT_TRUE(RegisterApp("app-1", "team-a").ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 7, 4).ok());
  EXPECT_TRUE(RegisterShuffle("app-1", 7, 4).ok());

  grpc::Status conflict = RegisterShuffle("app-1", 7, 5);
  EXPECT_EQ(conflict.error_code(), grpc::StatusCode::ALREADY_EXISTS) << conflict.error_message();
  EXPECT_NE(conflict.error_message().find("4 partitions"), std::string::npos)
      << conflict.error_message();

  grpc::Status moved = RegisterApp("app-1", "team-b");
  EXPECT_EQ(moved.error_code(), grpc::StatusCode::ALREADY_EXISTS) << moved.error_message();
  EXPECT_NE(moved.error_message().find("team-a"), std::string::npos) << moved.error_message();
}

TEST_F(ControlTest, RefusesInvalidArguments) {
  grpc::Status no_app = RegisterApp("", "team-a");
  EXPECT_EQ(no_app.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_app.error_message().find("application id is empty"), std::string::npos)
      << no_app.error_message();
  EXPECT_EQ(RegisterApp(std::string(kMaxAppIdBytes + 1, 'a'), "ns").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(RegisterShuffle("", 1, 4).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status zero = RegisterShuffle("app-1", 1, 0);
  EXPECT_EQ(zero.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(zero.error_message().find("num_partitions"), std::string::npos) << zero.error_message();

  proto::SealShuffleRequest seal;
  *seal.mutable_credentials() = Creds("app-1");
  seal.set_shuffle_id(99);
  proto::SealShuffleResponse seal_response;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->SealShuffle(&context, seal, &seal_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlTest, UnregisteredApplicationGetsDefaultNamespace) {
  ASSERT_TRUE(RegisterShuffle("anon", 1, 2).ok());
  proto::GetStatusResponse status = Status();
  ASSERT_EQ(status.applications_size(), 1);
  EXPECT_EQ(status.applications(0).app_id(), "anon");
  EXPECT_EQ(status.applications(0).namespace_(), kDefaultNamespace);
}

TEST_F(ControlTest, StatusShowsApplicationsAndDirectories) {
  ASSERT_TRUE(RegisterApp("app-1", "team-a").ok());
  ASSERT_TRUE(RegisterApp("app-2", "team-b").ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 1, 4).ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 2, 4).ok());
  WriteMap("app-1", 1, 4);

  proto::GetStatusResponse status = Status();
  EXPECT_EQ(status.node(), "node-a");
  EXPECT_EQ(status.version(), ServerVersion());
  EXPECT_FALSE(status.version().empty());
  ASSERT_EQ(status.directories_size(), 2);
  uint64_t used = 0;
  for (const proto::DirectoryStatus& d : status.directories()) {
    EXPECT_EQ(d.path().rfind(dir_.path(), 0), 0u) << d.path();
    EXPECT_GT(d.capacity_bytes(), 0u);
    EXPECT_LE(d.free_bytes(), d.capacity_bytes());
    used += d.used_bytes();
  }
  EXPECT_GE(used, 4 * kBlockSize);

  ASSERT_EQ(status.applications_size(), 2);
  const proto::ApplicationStatus& a1 = status.applications(0);
  EXPECT_EQ(a1.app_id(), "app-1");
  EXPECT_EQ(a1.namespace_(), "team-a");
  EXPECT_EQ(a1.shuffles(), 2u);
  EXPECT_GE(a1.bytes(), 4 * kBlockSize);
  EXPECT_GT(a1.files(), 0u);
  const proto::ApplicationStatus& a2 = status.applications(1);
  EXPECT_EQ(a2.app_id(), "app-2");
  EXPECT_EQ(a2.namespace_(), "team-b");
  EXPECT_EQ(a2.shuffles(), 0u);
  EXPECT_EQ(a2.bytes(), 0u);
}

TEST_F(ControlTest, RemoveShuffleAndApplicationFreeBytes) {
  ASSERT_TRUE(RegisterApp("app-1", "team-a").ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 1, 2).ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 2, 2).ok());
  WriteMap("app-1", 1, 2);
  WriteMap("app-1", 2, 2);

  proto::SealShuffleRequest seal;
  *seal.mutable_credentials() = Creds("app-1");
  seal.set_shuffle_id(1);
  proto::SealShuffleResponse seal_response;
  grpc::ClientContext seal_context;
  ASSERT_TRUE(stub_->SealShuffle(&seal_context, seal, &seal_response).ok());

  proto::RemoveShuffleRequest remove;
  *remove.mutable_credentials() = Creds("app-1");
  remove.set_shuffle_id(1);
  proto::RemoveShuffleResponse remove_response;
  grpc::ClientContext remove_context;
  ASSERT_TRUE(stub_->RemoveShuffle(&remove_context, remove, &remove_response).ok());
  EXPECT_GE(remove_response.freed_bytes(), 2 * kBlockSize);
  grpc::ClientContext again_context;
  EXPECT_EQ(stub_->RemoveShuffle(&again_context, remove, &remove_response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  proto::RemoveApplicationRequest remove_app;
  *remove_app.mutable_credentials() = Creds("app-1");
  proto::RemoveApplicationResponse remove_app_response;
  grpc::ClientContext app_context;
  ASSERT_TRUE(stub_->RemoveApplication(&app_context, remove_app, &remove_app_response).ok());
  EXPECT_GE(remove_app_response.freed_bytes(), 2 * kBlockSize);

  proto::GetStatusResponse status = Status();
  EXPECT_EQ(status.applications_size(), 0);
  for (const proto::DirectoryStatus& d : status.directories()) {
    EXPECT_EQ(d.used_bytes(), 0u) << d.path();
  }
  // Removed, the application may come back in another namespace.
  EXPECT_TRUE(RegisterApp("app-1", "team-b").ok());
}

TEST_F(ControlTest, HealthServingThenNotServing) {
  EXPECT_EQ(CheckHealth(channel_, ""), Health::kServing);
  EXPECT_EQ(CheckHealth(channel_, std::string(kControlServiceName)), Health::kServing);
  EXPECT_EQ(CheckHealth(channel_, "no.such.Service"), Health::kError);  // NOT_FOUND

  server_->SetServing(false);
  EXPECT_EQ(CheckHealth(channel_, ""), Health::kNotServing);
  EXPECT_EQ(CheckHealth(channel_, std::string(kControlServiceName)), Health::kNotServing);
  // Still answering RPCs while draining.
  EXPECT_TRUE(RegisterApp("app-1", "team-a").ok());

  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Shutdown(std::chrono::system_clock::now());   // idempotent
  EXPECT_EQ(CheckHealth(channel_, ""), Health::kError);  // gone
}

TEST(ControlServerTest, ReportsAnAddressItCannotUse) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<storage::StorageEngine>> engine =
      storage::StorageEngine::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(engine.ok()) << engine.status();
  ControlService service(engine->get(), ControlServiceOptions{});
  absl::StatusOr<std::unique_ptr<ControlServer>> server =
      ControlServer::Start("256.1.1.1:bad", &service);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(server.status().message().find("256.1.1.1:bad"), std::string::npos);
}

TEST_F(ControlTest, RefusesAPortInUse) {
  absl::StatusOr<std::unique_ptr<ControlServer>> second =
      ControlServer::Start(absl::StrCat("127.0.0.1:", server_->port()), service_.get());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CheckHealth(channel_, ""), Health::kServing);  // the first one is unaffected
}

TEST(StatusConversionTest, KeepsCodeAndMessage) {
  const absl::Status in = absl::ResourceExhaustedError("disk full on /data");
  const grpc::Status wire = ToGrpcStatus(in);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(FromGrpcStatus(wire), in);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace shuffle::control
