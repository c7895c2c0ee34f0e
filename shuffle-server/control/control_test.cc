// The control plane end to end in one process (control_test_util.h): registration, status,
// removal, health checking. Scrub, drain and admin authorization: control_admin_test.cc.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "shuffle-server/control/control_server.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle-server/control/control_test_util.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "tests/support/temp_dir.h"

namespace shuffle::control {
namespace {

using storage::testing::SmallOptions;
using testing::CheckHealth;
using testing::ControlTest;
using testing::Creds;
using testing::Health;
using testing::kBlockSize;
using testsupport::TempDir;

TEST_F(ControlTest, RegistersApplicationAndShuffleIdempotently) {
  std::string token = "unset";
  ASSERT_TRUE(RegisterApp("app-1", "team-a", &token).ok());
  EXPECT_EQ(token, "");  // an open server issues no tokens
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
