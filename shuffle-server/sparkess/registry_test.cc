#include "shuffle-server/sparkess/registry.h"

#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::sparkess {
namespace {

namespace fs = std::filesystem;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("sparkess-registry-" + std::to_string(getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "root" / "app" / "blockmgr-1");
    fs::create_directories(base_ / "outside");
    fs::create_symlink(base_ / "outside", base_ / "root" / "escape");
    root_ = fs::canonical(base_ / "root").string();
    store_ = MemoryRegistryStore();
  }
  void TearDown() override { fs::remove_all(base_); }
  ExecutorShuffleInfo Info(const fs::path& dir) {
    return {.local_dirs = {dir.string()}, .sub_dirs_per_local_dir = 64, .shuffle_manager = "sort"};
  }
  fs::path base_;
  std::string root_;
  std::unique_ptr<RegistryStore> store_;
};

TEST_F(RegistryTest, RegistrationsPersistAndReload) {
  {
    auto registry = ExecutorRegistry::Open(root_, store_.get());
    ASSERT_TRUE(registry.ok());
    ASSERT_TRUE((*registry)->Register("app-1", "1", Info(base_ / "root/app/blockmgr-1")).ok());
    EXPECT_EQ((*registry)->executors(), 1u);
  }
  auto reopened = ExecutorRegistry::Open(root_, store_.get());
  ASSERT_TRUE(reopened.ok());
  std::optional<Registration> r = (*reopened)->Find("app-1", "1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->info.local_dirs[0], (base_ / "root/app/blockmgr-1").string());
  EXPECT_EQ(r->resolved.local_dirs[0], root_ + "/app/blockmgr-1");
  EXPECT_FALSE((*reopened)->Find("app-2", "1").has_value());
  EXPECT_EQ(DecodeRegistration(EncodeRegistration(*r)).value(), *r);
}

TEST_F(RegistryTest, DirsOutsideTheRootAreRefused) {
  auto registry = ExecutorRegistry::Open(root_, store_.get());
  ASSERT_TRUE(registry.ok());
  for (const fs::path& dir : {base_ / "outside", base_ / "root" / "escape",
                              base_ / "root" / "app" / ".." / ".." / "outside",
                              fs::path("relative/dir"), base_ / "root" / "missing"}) {
    absl::Status s = (*registry)->Register("app-1", "1", Info(dir));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << dir;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("--spark-local-dirs-root"));
  }
  EXPECT_EQ((*registry)->executors(), 0u);
  ExecutorShuffleInfo no_subdirs = Info(base_ / "root/app/blockmgr-1");
  no_subdirs.sub_dirs_per_local_dir = 0;
  EXPECT_EQ((*registry)->Register("app-1", "1", no_subdirs).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, IdleApplicationsExpire) {
  auto registry = ExecutorRegistry::Open(root_, store_.get());
  ASSERT_TRUE(registry.ok());
  ASSERT_TRUE((*registry)->Register("old", "1", Info(base_ / "root/app/blockmgr-1")).ok());
  ASSERT_TRUE((*registry)->Register("new", "1", Info(base_ / "root/app/blockmgr-1")).ok());
  const absl::Time later = absl::Now() + absl::Hours(2);
  (*registry)->Find("new", "1");
  auto none = (*registry)->RemoveIdle(absl::Hours(3), later);
  EXPECT_TRUE(none.empty());
  auto both = (*registry)->RemoveIdle(absl::Hours(1), later);
  EXPECT_EQ(both.size(), 2u);
  EXPECT_EQ((*registry)->executors(), 0u);
  auto reopened = ExecutorRegistry::Open(root_, store_.get());
  EXPECT_EQ((*reopened)->executors(), 0u);  // removals persist too
}

}  // namespace
}  // namespace shuffle::sparkess
