#include "shuffle-server/adoption/shared_volume.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace shuffle::adoption {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testsupport::TempDir;
using DirState = SharedVolume::DirState;

// Holds the lock a running server holds on its directory, as another holder would.
class HeldLock {
 public:
  explicit HeldLock(const std::string& dir) : fd_(open((dir + "/index/LOCK").c_str(), O_RDWR)) {
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    held_ = fd_ >= 0 && fcntl(fd_, F_OFD_SETLK, &lock) == 0;
  }
  ~HeldLock() { close(fd_); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_;
  bool held_ = false;
};

class SharedVolumeTest : public ::testing::Test {
 protected:
  // A data directory as a server leaves it: its index lock file and some data.
  std::string MakeNodeDir(const std::string& node) {
    dir_.Write(node + "/index/LOCK", "");
    dir_.Write(node + "/segments/0", "data");
    return volume_.NodeDir(node);
  }

  TempDir dir_{"shared-volume-test-"};
  SharedVolume volume_{dir_.path()};
};

TEST_F(SharedVolumeTest, NodeNamesCannotLeaveTheVolume) {
  EXPECT_TRUE(SharedVolume::CheckNodeName("node-1").ok());
  EXPECT_TRUE(SharedVolume::CheckNodeName("ip-10-0-0-7.ec2.internal").ok());
  for (const std::string& bad :
       std::vector<std::string>{"", "..", ".adopted", "a/b", "/etc", std::string(254, 'n')}) {
    EXPECT_EQ(SharedVolume::CheckNodeName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(volume_.ClaimNodeDir("../x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SharedVolumeTest, ADirectoryIsInUseWhileItsLockIsHeld) {
  EXPECT_EQ(SharedVolume::StateOf(volume_.NodeDir("node-1")), DirState::kAbsent);
  const std::string dir = MakeNodeDir("node-1");
  EXPECT_EQ(SharedVolume::StateOf(dir), DirState::kFree);
  {
    const HeldLock lock(dir);
    ASSERT_TRUE(lock.held());
    EXPECT_EQ(SharedVolume::StateOf(dir), DirState::kInUse);
  }
  EXPECT_EQ(SharedVolume::StateOf(dir), DirState::kFree);
}

TEST_F(SharedVolumeTest, AClaimedDirectoryMovesOutOfTheNodesWay) {
  const std::string dir = MakeNodeDir("node-1");
  absl::StatusOr<std::string> claimed = volume_.ClaimNodeDir("node-1");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(*claimed, StartsWith(dir_.path() + "/.adopted/node-1@"));
  EXPECT_FALSE(fs::exists(dir));  // a server coming back on node-1 starts afresh
  EXPECT_TRUE(fs::exists(*claimed + "/segments/0"));
  EXPECT_EQ(SharedVolume::StateOf(*claimed), DirState::kFree);  // the claim's lock is let go
  EXPECT_EQ(volume_.ClaimNodeDir("node-1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SharedVolumeTest, AHeldDirectoryCannotBeClaimed) {
  const std::string dir = MakeNodeDir("node-1");
  const HeldLock lock(dir);
  ASSERT_TRUE(lock.held());
  const absl::Status claimed = volume_.ClaimNodeDir("node-1").status();
  EXPECT_EQ(claimed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(claimed.message(), HasSubstr("held by a running server"));
  EXPECT_TRUE(fs::exists(dir + "/segments/0"));
}

TEST_F(SharedVolumeTest, RecordsSayWhereAnAdoptionIsServed) {
  EXPECT_FALSE(volume_.ReadRecord("node-1").has_value());
  MakeNodeDir("node-1");
  absl::StatusOr<std::string> claimed = volume_.ClaimNodeDir("node-1");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_TRUE(volume_
                  .WriteRecord("node-1", AdoptionRecord{.dir = *claimed,
                                                        .data_address = "10.0.0.2:40001",
                                                        .control_address = "10.0.0.2:40002",
                                                        .adopted_by = "node-2"})
                  .ok());
  const std::optional<AdoptionRecord> record = volume_.ReadRecord("node-1");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dir, *claimed);
  EXPECT_EQ(record->data_address, "10.0.0.2:40001");
  EXPECT_EQ(record->control_address, "10.0.0.2:40002");
  EXPECT_EQ(record->adopted_by, "node-2");
  dir_.Write(".adopted/node-3.adoption", "garbage\n");
  EXPECT_FALSE(volume_.ReadRecord("node-3").has_value());
}

}  // namespace
}  // namespace shuffle::adoption
