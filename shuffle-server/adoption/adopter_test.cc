// The Adopter's decisions, with a stand-in for the adopted server that holds the directory's
// lock as a real engine does (the real servers: tests/integration/adoption_test.cc).
#include "shuffle-server/adoption/adopter.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace shuffle::adoption {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testsupport::TempDir;

// Serves `dir` the way the engine holds it: its index lock taken.
class LockingServer final : public AdoptedServer {
 public:
  LockingServer(const std::string& dir, int port)
      : fd_(open((dir + "/index/LOCK").c_str(), O_RDWR)), port_(port) {
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    fcntl(fd_, F_OFD_SETLK, &lock);
  }
  ~LockingServer() override { close(fd_); }
  std::string data_address() const override { return absl::StrCat("10.0.0.9:", port_); }
  std::string control_address() const override { return absl::StrCat("10.0.0.9:", port_ + 1); }
  uint64_t commits_recovered() const override { return 7; }

 private:
  int fd_;
  int port_;
};

class AdopterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Adopter> MakeAdopter(const std::string& own_node, int port) {
    return std::make_unique<Adopter>(
        AdopterOptions{.root = dir_.path(), .own_node = own_node},
        [this, port](const std::string& node,
                     const std::string& dir) -> absl::StatusOr<std::unique_ptr<AdoptedServer>> {
          started_.push_back(node + " " + dir);
          if (fail_start_) {
            return absl::InternalError("recovery failed");
          }
          return std::make_unique<LockingServer>(dir, port);
        });
  }
  void MakeNodeDir(const std::string& node) { dir_.Write(node + "/index/LOCK", ""); }

  TempDir dir_{"adopter-test-"};
  std::vector<std::string> started_;
  bool fail_start_ = false;
};

TEST_F(AdopterTest, ALostNodesDirectoryIsServedOnceWhoeverAsks) {
  MakeNodeDir("node-1");
  std::unique_ptr<Adopter> adopter = MakeAdopter("node-2", 40000);
  absl::StatusOr<Adoption> first = adopter->Adopt("node-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->already_adopted);
  EXPECT_EQ(first->data_address, "10.0.0.9:40000");
  EXPECT_EQ(first->control_address, "10.0.0.9:40001");
  EXPECT_EQ(first->adopted_by, "node-2");
  EXPECT_EQ(first->commits_recovered, 7u);
  ASSERT_EQ(started_.size(), 1u);
  EXPECT_THAT(started_[0], StartsWith("node-1 " + dir_.path() + "/.adopted/node-1@"));

  absl::StatusOr<Adoption> again = adopter->Adopt("node-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_adopted);
  EXPECT_EQ(again->data_address, first->data_address);

  // Another server asked later points to the adopter, through the record on the volume.
  std::unique_ptr<Adopter> other = MakeAdopter("node-3", 50000);
  absl::StatusOr<Adoption> elsewhere = other->Adopt("node-1");
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_TRUE(elsewhere->already_adopted);
  EXPECT_EQ(elsewhere->data_address, "10.0.0.9:40000");
  EXPECT_EQ(elsewhere->adopted_by, "node-2");
  EXPECT_EQ(started_.size(), 1u);
  EXPECT_EQ(adopter->serving(), 1u);
  EXPECT_EQ(adopter->adoptions(), 1u);

  // The adopter stops: the next asker adopts the directory again.
  adopter->Stop();
  absl::StatusOr<Adoption> taken_over = other->Adopt("node-1");
  ASSERT_TRUE(taken_over.ok()) << taken_over.status();
  EXPECT_FALSE(taken_over->already_adopted);
  EXPECT_EQ(taken_over->data_address, "10.0.0.9:50000");
  EXPECT_EQ(taken_over->adopted_by, "node-3");
  ASSERT_EQ(started_.size(), 2u);
  EXPECT_EQ(started_[1].substr(started_[1].find(' ')), started_[0].substr(started_[0].find(' ')));
}

TEST_F(AdopterTest, ARunningServersDirectoryIsNotTaken) {
  MakeNodeDir("node-1");
  LockingServer running(dir_.Sub("node-1"), 7340);  // node-1's own server runs
  std::unique_ptr<Adopter> adopter = MakeAdopter("node-2", 40000);
  const absl::Status refused = adopter->Adopt("node-1").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("still holds its data directory"));
  EXPECT_TRUE(started_.empty());
}

TEST_F(AdopterTest, NothingToAdoptAndBadNamesAreRefused) {
  std::unique_ptr<Adopter> adopter = MakeAdopter("node-2", 40000);
  EXPECT_EQ(adopter->Adopt("node-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(adopter->Adopt("node-2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(adopter->Adopt("../node-1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(started_.empty());
}

TEST_F(AdopterTest, AFailedStartLeavesTheDirectoryForTheNextAttempt) {
  MakeNodeDir("node-1");
  std::unique_ptr<Adopter> adopter = MakeAdopter("node-2", 40000);
  fail_start_ = true;
  const absl::Status failed = adopter->Adopt("node-1").status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(failed.message(), HasSubstr("recovery failed"));
  EXPECT_EQ(adopter->serving(), 0u);
  fail_start_ = false;
  // The directory was claimed (moved out of node-1's way) and its claim recorded.
  absl::StatusOr<Adoption> second = adopter->Adopt("node-1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->already_adopted);
  ASSERT_EQ(started_.size(), 2u);
  EXPECT_EQ(started_[0], started_[1]);
}

}  // namespace
}  // namespace shuffle::adoption
