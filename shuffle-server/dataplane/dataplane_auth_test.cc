// Data-plane requests with application tokens: wrong, missing, forged and cross-application
// tokens are refused (UNAUTHENTICATED / PERMISSION_DENIED) without leaking anything, and an
// application can never read or write another's shuffle.
#include "gtest/gtest.h"
#include "shuffle-server/dataplane/dataplane_test_util.h"
#include "shuffle-server/security/token_authority.h"

namespace shuffle::dataplane::testing {
namespace {

using core::FrameType;

class DataPlaneAuthTest : public DataPlaneTest {
 protected:
  void SetUp() override {
    DataPlaneTest::SetUp();
    authority_ = std::move(*security::TokenAuthority::Create(std::string(48, 'k')));
    DataPlaneOptions options = DefaultOptions();
    options.token_authority = authority_.get();
    StartServer(options);
    Register(1, 2);
    client_ = ConnectTcp();
    ASSERT_NE(client_, nullptr);
  }

  // Sends a fetch of shuffle 1 as `app` with `token`; returns the answer's status.
  absl::Status Fetch(uint64_t id, const std::string& app, const std::string& token) {
    proto::FetchRequest req;
    req.mutable_credentials()->set_app_id(app);
    req.mutable_credentials()->set_token(token);
    req.set_shuffle_id(1);
    req.set_partition_start(0);
    req.set_partition_end(2);
    EXPECT_TRUE(client_->SendFrame(FrameType::kFetchRequest, id, req).ok());
    Fetched fetched = ReadFetch(*client_, id);
    last_message_ = std::string(fetched.status.message());
    return fetched.status;
  }

  std::unique_ptr<security::TokenAuthority> authority_;
  std::unique_ptr<TestClient> client_;
  std::string last_message_;
};

TEST_F(DataPlaneAuthTest, OnlyTheApplicationsOwnTokenIsAccepted) {
  const std::string good = authority_->Issue(kApp, "ns");
  EXPECT_TRUE(Fetch(1, kApp, good).ok()) << last_message_;

  EXPECT_EQ(Fetch(2, kApp, "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Fetch(3, kApp, "not-a-token").code(), absl::StatusCode::kUnauthenticated);
  std::string forged = good;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(Fetch(4, kApp, forged).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(last_message_.find(forged), std::string::npos) << "token leaked: " << last_message_;
  // Another application's valid token does not open this application's shuffle, and this
  // application's token does not open another's.
  const std::string other = authority_->Issue("app-2", "ns");
  EXPECT_EQ(Fetch(5, kApp, other).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Fetch(6, "app-2", good).code(), absl::StatusCode::kPermissionDenied);
  // A token issued under another cluster's secret.
  auto foreign = *security::TokenAuthority::Create(std::string(48, 'z'));
  EXPECT_EQ(Fetch(7, kApp, foreign->Issue(kApp, "ns")).code(), absl::StatusCode::kPermissionDenied);
  // The connection survives refusals.
  EXPECT_TRUE(Fetch(8, kApp, good).ok()) << last_message_;
}

TEST_F(DataPlaneAuthTest, PushAndCommitNeedTheTokenToo) {
  const Blocks blocks = MakeMapBlocks(1, 0, 0, 2, {100});
  ASSERT_TRUE(SendPush(*client_, 1, 1, 0, 0, blocks).ok());  // no token
  auto frame = client_->ReadFrame();
  ASSERT_TRUE(frame.ok());
  ASSERT_EQ(frame->type, FrameType::kError);
  proto::Error error;
  ASSERT_TRUE(error.ParseFromString(frame->header));
  EXPECT_EQ(error.code(), static_cast<int>(absl::StatusCode::kUnauthenticated));

  proto::CommitRequest commit;
  commit.mutable_credentials()->set_app_id(kApp);
  commit.mutable_credentials()->set_token(authority_->Issue("intruder", "ns"));
  commit.set_shuffle_id(1);
  commit.set_num_partitions(2);
  ASSERT_TRUE(client_->SendFrame(FrameType::kCommitRequest, 2, commit).ok());
  frame = client_->ReadFrame();
  ASSERT_TRUE(frame.ok());
  ASSERT_EQ(frame->type, FrameType::kError);
  ASSERT_TRUE(error.ParseFromString(frame->header));
  EXPECT_EQ(error.code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace shuffle::dataplane::testing
