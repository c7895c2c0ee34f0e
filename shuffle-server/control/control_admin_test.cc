// The control plane's maintenance calls over gRPC (control_test_util.h): ScrubShuffle finding a
// block corrupted on disk, Drain refusing new writes while reads keep working, the per-shuffle
// status, and admin authorization on a secured server, refused without leaking anything about
// another application.
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shuffle-server/control/control_test_util.h"

namespace shuffle::control {
namespace {

using testing::CheckHealth;
using testing::ControlTest;
using testing::Creds;
using ::testing::HasSubstr;
using testing::Health;
using testing::kBlockSize;
using ::testing::Not;

proto::AdminCredentials Admin(const std::string& secret) {
  proto::AdminCredentials admin;
  admin.set_operator_secret(secret);
  return admin;
}

// Flips one byte `at` bytes into `path`.
void FlipByte(const std::string& path, std::streamoff at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(at);
  f.write(&c, 1);
}

grpc::Status Scrub(proto::ShuffleControl::Stub& stub, const proto::ScrubShuffleRequest& request,
                   proto::ScrubShuffleResponse* response) {
  grpc::ClientContext context;
  return stub.ScrubShuffle(&context, request, response);
}

grpc::Status GetStatus(proto::ShuffleControl::Stub& stub, const proto::GetStatusRequest& request,
                       proto::GetStatusResponse* response) {
  grpc::ClientContext context;
  return stub.GetStatus(&context, request, response);
}

TEST_F(ControlTest, ScrubFindsABlockCorruptedOnDisk) {
  ASSERT_TRUE(RegisterApp("app-1", "team-a").ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 3, 4).ok());
  WriteMap("app-1", 3, 4);
  proto::ScrubShuffleRequest request;
  *request.mutable_credentials() = Creds("app-1");
  request.set_shuffle_id(3);
  proto::ScrubShuffleResponse clean;
  ASSERT_TRUE(Scrub(*stub_, request, &clean).ok());
  EXPECT_EQ(clean.maps(), 1u);
  EXPECT_EQ(clean.expected_blocks(), 4u);
  EXPECT_EQ(clean.blocks_checked(), 4u);
  EXPECT_GE(clean.bytes_checked(), 4 * kBlockSize);
  EXPECT_EQ(clean.corrupt_blocks(), 0u);

  const std::string segment = dir_.path() + "/d1/shuffles/1/data.seg";  // partitions 1 and 3
  FlipByte(segment, 100);
  proto::ScrubShuffleResponse damaged;
  ASSERT_TRUE(Scrub(*stub_, request, &damaged).ok());  // corruption is a finding, not an error
  EXPECT_EQ(damaged.blocks_checked(), 4u);
  ASSERT_EQ(damaged.corrupt_blocks(), 1u);
  ASSERT_EQ(damaged.corrupt_size(), 1);
  const proto::CorruptBlock& bad = damaged.corrupt(0);
  EXPECT_EQ(bad.map_id(), 0u);
  EXPECT_EQ(bad.attempt(), 0u);
  EXPECT_EQ(bad.partition() % 2, 1u);
  EXPECT_EQ(bad.seq(), bad.partition());  // WriteMap numbers blocks by partition
  EXPECT_EQ(bad.file(), segment);
  EXPECT_EQ(bad.offset(), 0u);
  EXPECT_GT(bad.length(), kBlockSize);
  EXPECT_THAT(bad.error(), HasSubstr("checksum mismatch"));

  request.set_shuffle_id(99);
  proto::ScrubShuffleResponse none;
  EXPECT_EQ(Scrub(*stub_, request, &none).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlTest, StatusListsShufflesPerApplicationAndNamespaces) {
  ASSERT_TRUE(RegisterApp("app-1", "team-a").ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 2, 4).ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 1, 2).ok());
  WriteMap("app-1", 1, 2);
  proto::SealShuffleRequest seal;
  *seal.mutable_credentials() = Creds("app-1");
  seal.set_shuffle_id(1);
  proto::SealShuffleResponse sealed;
  grpc::ClientContext seal_context;
  ASSERT_TRUE(stub_->SealShuffle(&seal_context, seal, &sealed).ok());

  proto::GetStatusResponse status = Status();
  ASSERT_EQ(status.applications_size(), 1);
  const proto::ApplicationStatus& app = status.applications(0);
  ASSERT_EQ(app.shuffle_details_size(), 2);
  const proto::ShuffleStatus& first = app.shuffle_details(0);
  EXPECT_EQ(first.shuffle_id(), 1u);
  EXPECT_EQ(first.partitions(), 2u);
  EXPECT_EQ(first.maps_committed(), 1u);
  EXPECT_TRUE(first.sealed());
  EXPECT_GE(first.bytes(), 2 * kBlockSize);
  EXPECT_EQ(first.bytes() + app.shuffle_details(1).bytes(), app.bytes());
  EXPECT_EQ(app.shuffle_details(1).shuffle_id(), 2u);
  EXPECT_FALSE(app.shuffle_details(1).sealed());
  EXPECT_EQ(app.shuffle_details(1).maps_committed(), 0u);
  ASSERT_EQ(status.namespaces_size(), 1);
  EXPECT_EQ(status.namespaces(0).namespace_(), "team-a");
  EXPECT_EQ(status.namespaces(0).applications(), 1u);
  EXPECT_EQ(status.namespaces(0).bytes(), app.bytes());
  EXPECT_GE(status.namespaces(0).stored_bytes(), 2 * kBlockSize);
  uint64_t used = 0;
  for (const proto::DirectoryStatus& d : status.directories()) {
    used += d.used_bytes();
  }
  EXPECT_EQ(used, app.bytes());

  proto::GetStatusRequest one;
  one.set_app_id("no-such-app");
  proto::GetStatusResponse missing;
  EXPECT_EQ(GetStatus(*stub_, one, &missing).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlTest, DrainRefusesNewWritesWhileReadsWork) {
  ASSERT_TRUE(RegisterApp("app-1", "team-a").ok());
  ASSERT_TRUE(RegisterShuffle("app-1", 1, 2).ok());
  WriteMap("app-1", 1, 2);
  proto::DrainRequest drain;
  drain.set_timeout_seconds(5);
  proto::DrainResponse drained;
  grpc::ClientContext context;
  grpc::Status status = stub_->Drain(&context, drain, &drained);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(CheckHealth(channel_, ""), Health::kNotServing);
  EXPECT_TRUE(Status().draining());

  grpc::Status refused = RegisterShuffle("app-1", 2, 2);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("server draining"));
  const std::string block = storage::testing::MakeBlock(1, 1, 0, 0, 0, 1000);
  absl::Status push = engine_->Push({core::AppId("app-1"), core::ShuffleId(1)}, core::MapId(1),
                                    core::AttemptId(0), {{core::PartitionId(0), block}});
  EXPECT_EQ(push.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(push.message(), HasSubstr("server draining"));
  auto read = engine_->Read(
      {core::AppId("app-1"), core::ShuffleId(1)},
      {.partition_begin = core::PartitionId(0), .partition_end = core::PartitionId(2)});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 2u);
}

class SecuredControlTest : public ControlTest {
 protected:
  void SetUp() override {
    StartServer(/*secured=*/true);
    ASSERT_TRUE(RegisterApp("app-a", "team-a", &token_a_, kOperatorSecret).ok());
    ASSERT_TRUE(RegisterApp("app-b", "team-b", &token_b_, kOperatorSecret).ok());
    ASSERT_TRUE(RegisterShuffle("app-a", 1, 2, token_a_).ok());
    ASSERT_TRUE(RegisterShuffle("app-b", 7, 2, token_b_).ok());
    WriteMap("app-b", 7, 2);
  }
  std::string token_a_;
  std::string token_b_;
};

// Nothing in a refusal may mention the other application's shuffles or data.
void ExpectNoLeak(const grpc::Status& status) {
  EXPECT_THAT(status.error_message(), Not(HasSubstr("team-b")));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("not registered")));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("/7")));
}

TEST_F(SecuredControlTest, AdminCallsNeedTheOperatorSecret) {
  proto::GetStatusResponse status;
  grpc::Status anonymous = GetStatus(*stub_, proto::GetStatusRequest(), &status);
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(anonymous.error_message(), HasSubstr("operator secret"));
  proto::GetStatusRequest wrong;
  *wrong.mutable_admin() = Admin("guess");
  EXPECT_EQ(GetStatus(*stub_, wrong, &status).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  proto::GetStatusRequest right;
  *right.mutable_admin() = Admin(kOperatorSecret);
  ASSERT_TRUE(GetStatus(*stub_, right, &status).ok());
  EXPECT_EQ(status.applications_size(), 2);

  proto::DrainRequest drain;
  proto::DrainResponse drained;
  grpc::ClientContext no_secret;
  EXPECT_EQ(stub_->Drain(&no_secret, drain, &drained).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  *drain.mutable_admin() = Admin("guess");
  grpc::ClientContext wrong_secret;
  EXPECT_EQ(stub_->Drain(&wrong_secret, drain, &drained).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(engine_->draining());

  proto::RemoveApplicationRequest remove;
  *remove.mutable_credentials() = Creds("app-b");
  *remove.mutable_admin() = Admin("guess");
  proto::RemoveApplicationResponse removed;
  grpc::ClientContext bad_remove;
  grpc::Status refused = stub_->RemoveApplication(&bad_remove, remove, &removed);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ExpectNoLeak(refused);
  *remove.mutable_admin() = Admin(kOperatorSecret);
  grpc::ClientContext good_remove;
  ASSERT_TRUE(stub_->RemoveApplication(&good_remove, remove, &removed).ok());
  EXPECT_GE(removed.freed_bytes(), 2 * kBlockSize);
  *remove.mutable_credentials() = Creds("no-such-app");
  grpc::ClientContext unknown;
  EXPECT_EQ(stub_->RemoveApplication(&unknown, remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SecuredControlTest, AnApplicationSeesAndScrubsOnlyItself) {
  proto::GetStatusRequest own;
  *own.mutable_credentials() = Creds("app-a", token_a_);
  proto::GetStatusResponse status;
  ASSERT_TRUE(GetStatus(*stub_, own, &status).ok());
  ASSERT_EQ(status.applications_size(), 1);
  EXPECT_EQ(status.applications(0).app_id(), "app-a");
  EXPECT_EQ(status.directories_size(), 0);
  EXPECT_EQ(status.namespaces_size(), 0);
  own.set_app_id("app-b");
  grpc::Status other = GetStatus(*stub_, own, &status);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ExpectNoLeak(other);

  // Another application's shuffle, with this application's token: refused the same way whether
  // or not the shuffle exists.
  proto::ScrubShuffleRequest scrub;
  *scrub.mutable_credentials() = Creds("app-b", token_a_);
  scrub.set_shuffle_id(7);
  proto::ScrubShuffleResponse response;
  grpc::Status existing = Scrub(*stub_, scrub, &response);
  scrub.set_shuffle_id(8);
  grpc::Status absent = Scrub(*stub_, scrub, &response);
  EXPECT_EQ(existing.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(absent.error_code(), existing.error_code());
  EXPECT_EQ(absent.error_message(), existing.error_message());
  ExpectNoLeak(existing);
  *scrub.mutable_credentials() = Creds("app-b");  // no token at all
  EXPECT_EQ(Scrub(*stub_, scrub, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  *scrub.mutable_credentials() = Creds("app-b", token_b_);
  scrub.set_shuffle_id(7);
  ASSERT_TRUE(Scrub(*stub_, scrub, &response).ok());
  EXPECT_EQ(response.blocks_checked(), 2u);
  *scrub.mutable_credentials() = Creds("app-b");
  *scrub.mutable_admin() = Admin(kOperatorSecret);
  ASSERT_TRUE(Scrub(*stub_, scrub, &response).ok());  // an operator scrubs any application's
  EXPECT_EQ(response.blocks_checked(), 2u);

  proto::RemoveApplicationRequest remove;
  *remove.mutable_credentials() = Creds("app-b", token_a_);
  proto::RemoveApplicationResponse removed;
  grpc::ClientContext context;
  grpc::Status refused = stub_->RemoveApplication(&context, remove, &removed);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ExpectNoLeak(refused);
  EXPECT_EQ(engine_->Usage().size(), 2u);
}

}  // namespace
}  // namespace shuffle::control
