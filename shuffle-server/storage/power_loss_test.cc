// The power-loss model (PowerLoss behind a FaultInjectionEnv, and RocksDB's file system under it):
// what survives a cut is exactly what was synced: file data and sizes at their last sync,
// directory entries whose parent was synced after they changed.
#include "shuffle-server/storage/power_loss.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "gtest/gtest.h"
#include "shuffle-server/storage/fault_injection_env.h"
#include "shuffle-server/storage/index.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = top_.path() + "/root";
    std::filesystem::create_directories(root_);
    auto power = PowerLoss::Create(root_);
    ASSERT_TRUE(power.ok()) << power.status();
    power_ = std::move(power).value();
    env_ = std::make_unique<FaultInjectionEnv>(Env::Default(), power_.get());
    auto engine = env_->NewIoEngine(8);
    ASSERT_TRUE(engine.ok());
    io_ = std::move(engine).value();
  }
  void TearDown() override {
    io_.reset();
    env_.reset();
    power_.reset();
  }

  std::unique_ptr<File> Open(const std::string& name) {
    auto file = env_->OpenFile(root_ + "/" + name, {.create = true});
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? std::move(file).value() : nullptr;
  }
  void Write(File* file, uint64_t offset, std::string data, IoEngine* engine = nullptr) {
    std::vector<IoOp> ops = {IoOp{.kind = IoKind::kWrite,
                                  .file = file,
                                  .offset = offset,
                                  .buffer = data.data(),
                                  .length = data.size()}};
    ASSERT_TRUE(RunToCompletion(engine != nullptr ? *engine : *io_, ops).ok());
  }
  void Sync(File* file) {
    std::vector<IoOp> ops = {IoOp{.kind = IoKind::kSync, .file = file}};
    ASSERT_TRUE(RunToCompletion(*io_, ops).ok());
  }

  testsupport::TempDir top_{"power-loss-test"};
  std::string root_;
  std::unique_ptr<PowerLoss> power_;
  std::unique_ptr<FaultInjectionEnv> env_;
  std::unique_ptr<IoEngine> io_;
};

TEST_F(PowerLossTest, UnsyncedDataIsDroppedSyncedDataStays) {
  std::unique_ptr<File> file = Open("f");
  ASSERT_TRUE(env_->SyncDir(root_).ok());
  Write(file.get(), 0, "durable!");
  Sync(file.get());
  Write(file.get(), 0, "CHANGED!");  // overwrite of synced bytes
  Write(file.get(), 8, "tail");      // past the synced size
  ASSERT_TRUE(file->Truncate(4).ok());
  ASSERT_TRUE(power_->DropUnsynced().ok());
  EXPECT_EQ(ReadAll(root_ + "/f"), "durable!");
  EXPECT_GE(power_->stats().files_reverted, 1u);
}

TEST_F(PowerLossTest, FileNeverSyncedIsEmpty) {
  std::unique_ptr<File> file = Open("f");
  ASSERT_TRUE(env_->SyncDir(root_).ok());
  Write(file.get(), 0, "never synced");
  ASSERT_TRUE(power_->DropUnsynced().ok());
  EXPECT_TRUE(Exists(root_ + "/f"));
  EXPECT_EQ(ReadAll(root_ + "/f"), "");
}

TEST_F(PowerLossTest, CreatedEntryNeedsItsDirectorySynced) {
  std::unique_ptr<File> synced_data = Open("data-synced");
  Write(synced_data.get(), 0, "x");
  Sync(synced_data.get());  // fdatasync of the file does not make its name durable
  ASSERT_TRUE(power_->DropUnsynced().ok());
  EXPECT_FALSE(Exists(root_ + "/data-synced"));
}

TEST_F(PowerLossTest, MkdirNeedsEachParentSynced) {
  ASSERT_TRUE(env_->CreateDirs(root_ + "/a/b/c").ok());
  ASSERT_TRUE(env_->SyncDir(root_).ok());  // a is durable; b and c are not
  ASSERT_TRUE(power_->DropUnsynced().ok());
  EXPECT_TRUE(Exists(root_ + "/a"));
  EXPECT_FALSE(Exists(root_ + "/a/b"));
}

TEST_F(PowerLossTest, RemovalComesBackUnlessTheDirectoryWasSynced) {
  ASSERT_TRUE(env_->CreateDirs(root_ + "/d").ok());
  std::unique_ptr<File> kept = Open("d/kept");
  std::unique_ptr<File> gone = Open("d/gone");
  Write(kept.get(), 0, "kept data");
  Sync(kept.get());
  ASSERT_TRUE(env_->SyncDir(root_ + "/d").ok());
  ASSERT_TRUE(env_->SyncDir(root_).ok());
  ASSERT_TRUE(env_->RemoveFile(root_ + "/d/gone").ok());
  ASSERT_TRUE(env_->SyncDir(root_ + "/d").ok());
  ASSERT_TRUE(env_->RemoveFile(root_ + "/d/kept").ok());  // not synced: comes back
  EXPECT_FALSE(Exists(root_ + "/d/kept"));
  ASSERT_TRUE(power_->DropUnsynced().ok());
  EXPECT_EQ(ReadAll(root_ + "/d/kept"), "kept data");
  EXPECT_FALSE(Exists(root_ + "/d/gone"));
}

TEST_F(PowerLossTest, RemoveAllOfATreeComesBack) {
  ASSERT_TRUE(env_->CreateDirs(root_ + "/t/u").ok());
  std::unique_ptr<File> file = Open("t/u/f");
  Write(file.get(), 0, "abc");
  Sync(file.get());
  ASSERT_TRUE(env_->SyncDir(root_ + "/t/u").ok());
  ASSERT_TRUE(env_->SyncDir(root_ + "/t").ok());
  ASSERT_TRUE(env_->SyncDir(root_).ok());
  ASSERT_TRUE(env_->RemoveAll(root_ + "/t").ok());
  ASSERT_TRUE(power_->DropUnsynced().ok());
  EXPECT_EQ(ReadAll(root_ + "/t/u/f"), "abc");
}

TEST_F(PowerLossTest, InjectedNamespaceFaults) {
  Fault sync_dir{.op = FsOp::kSyncDir, .path_contains = "root", .error = EIO};
  env_->AddFault(sync_dir);
  EXPECT_EQ(env_->SyncDir(root_).code(), absl::StatusCode::kDataLoss);  // EIO
  Fault remove{.op = FsOp::kRemove, .path_contains = "", .error = ENOSPC};
  env_->AddFault(remove);
  std::unique_ptr<File> file = Open("f");
  EXPECT_EQ(env_->RemoveFile(root_ + "/f").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Exists(root_ + "/f"));
  EXPECT_TRUE(env_->RemoveFile(root_ + "/f").ok());  // the fault fired once
  Fault mkdir{.op = FsOp::kCreateDirs, .path_contains = "", .error = EIO};
  env_->AddFault(mkdir);
  EXPECT_FALSE(env_->CreateDirs(root_ + "/m").ok());
  EXPECT_EQ(env_->fired(), 3);
}

// RocksDB through the wrapper: a synced write survives the cut, an unsynced one does not, and the
// database opens afterwards. The cut kills the process, so it runs in a forked child.
TEST_F(PowerLossTest, RocksDbKeepsSyncedWritesOnly) {
  const std::string path = root_ + "/index";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    IndexOptions options;
    options.file_system = env_->IndexFileSystem();
    auto index = Index::Open(path, options);
    // RocksDB syncs the entries of its directory, not the directory's own entry in its parent.
    if (!index.ok() || !env_->SyncDir(root_).ok()) {
      _exit(2);
    }
    Index::Batch synced;
    synced.PutNextHandle(7);
    if (!(*index)->Write(synced, /*sync=*/true).ok()) {
      _exit(3);
    }
    Index::Batch unsynced;
    unsynced.PutEpoch(9);
    if (!(*index)->Write(unsynced, /*sync=*/false).ok()) {
      _exit(4);
    }
    power_->Cut();
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  auto index = Index::Open(path);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->LoadNextHandle().value(), 7u);
  EXPECT_EQ((*index)->LoadEpoch().value(), 0u);  // the unsynced write was dropped
}

TEST_F(PowerLossTest, CrashPointCutsThePower) {
  std::unique_ptr<File> file = Open("f");
  ASSERT_TRUE(env_->SyncDir(root_).ok());
  Write(file.get(), 0, "synced");
  Sync(file.get());
  env_->CrashAtPoint("test:point", 2);
  EXPECT_EXIT(
      {
        env_->CrashPoint("test:point");  // first hit: nothing
        // A ring of the child's own: the parent's ring is memory shared with the parent.
        std::unique_ptr<IoEngine> engine = env_->NewIoEngine(4).value();
        Write(file.get(), 6, " and lost", engine.get());
        env_->CrashPoint("test:point");
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "power cut");
  EXPECT_EQ(ReadAll(root_ + "/f"), "synced");
}

}  // namespace
}  // namespace shuffle::storage
