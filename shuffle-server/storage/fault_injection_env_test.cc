#include "shuffle-server/storage/fault_injection_env.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage {
namespace {

using ::testing::HasSubstr;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char[], FreeDeleter>;

AlignedBuffer MakeAligned(size_t size) {
  return AlignedBuffer(static_cast<char*>(std::aligned_alloc(kDirectIoAlignment, size)));
}

IoOp Op(IoKind kind, File* file, uint64_t offset, char* buffer, size_t length) {
  IoOp op;
  op.kind = kind;
  op.file = file;
  op.offset = offset;
  op.buffer = buffer;
  op.length = length;
  return op;
}

Fault ErrorFault(IoKind kind, int error, int skip = 0, int count = 1) {
  Fault fault;
  fault.kind = kind;
  fault.error = error;
  fault.skip = skip;
  fault.count = count;
  return fault;
}

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    auto engine = env_.NewIoEngine(16);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(engine).value();
  }
  void TearDown() override { EXPECT_TRUE(Env::Default()->RemoveAll(dir_).ok()); }

  std::unique_ptr<File> Open(const std::string& name, bool direct = false) {
    OpenOptions options;
    options.direct = direct;
    auto file = env_.OpenFile(dir_ + "/" + name, options);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? std::move(file).value() : nullptr;
  }

  // The whole content of a file, read through the real Env and a buffered descriptor.
  static std::string Contents(const File& file) {
    OpenOptions options;
    options.read_only = true;
    std::unique_ptr<File> buffered = Env::Default()->OpenFile(file.path(), options).value();
    std::unique_ptr<IoEngine> engine = Env::Default()->NewIoEngine(4).value();
    const uint64_t size = buffered->Size().value();
    std::string data(size, '\0');
    std::vector<IoOp> read = {Op(IoKind::kRead, buffered.get(), 0, data.data(), size)};
    EXPECT_TRUE(RunToCompletion(*engine, read).ok());
    return data;
  }

  FaultInjectionEnv env_{Env::Default()};
  testsupport::TempDir tmp_{"fault_env_test.", "/tmp"};
  std::string dir_;
  std::unique_ptr<IoEngine> engine_;
};

TEST_F(FaultInjectionEnvTest, EioOnThirdWriteFailsOnlyThatOp) {
  std::unique_ptr<File> file = Open("seg");
  ASSERT_NE(file, nullptr);
  env_.AddFault(ErrorFault(IoKind::kWrite, EIO, /*skip=*/2));

  std::string data = "0123456789";
  std::vector<IoOp> ops;
  ops.reserve(5);
  for (int i = 0; i < 5; ++i) {
    ops.push_back(Op(IoKind::kWrite, file.get(), i * 2, data.data() + i * 2, 2));
  }
  std::vector<absl::Status> per_op;
  absl::Status status = RunToCompletion(*engine_, ops, &per_op);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(file->path()));
  EXPECT_THAT(status.message(), HasSubstr("at offset 4"));
  EXPECT_THAT(status.message(), HasSubstr("Input/output error"));
  ASSERT_EQ(per_op.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(per_op[i].ok(), i != 2) << i << ": " << per_op[i];
  }
  EXPECT_EQ(env_.fired(), 1);
  EXPECT_EQ(Contents(*file), std::string("0123\0\0"
                                         "6789",
                                         10));
  // The failed op counts as submitted, but moved no bytes.
  EXPECT_EQ(engine_->stats().writes, 5u);
  EXPECT_EQ(engine_->stats().bytes_written, 8u);

  // Fired once: the same batch now succeeds.
  EXPECT_TRUE(RunToCompletion(*engine_, ops).ok());
  EXPECT_EQ(Contents(*file), data);
}

TEST_F(FaultInjectionEnvTest, EnospcIsResourceExhausted) {
  std::unique_ptr<File> file = Open("full");
  ASSERT_NE(file, nullptr);
  env_.AddFault(ErrorFault(IoKind::kWrite, ENOSPC));
  std::string data = "abc";
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, data.data(), data.size())};
  absl::Status status = RunToCompletion(*engine_, ops);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("No space left on device"));
  EXPECT_EQ(file->Size().value(), 0u);
}

TEST_F(FaultInjectionEnvTest, SyncAndReadFaults) {
  std::unique_ptr<File> file = Open("s");
  ASSERT_NE(file, nullptr);
  env_.AddFault(ErrorFault(IoKind::kSync, EIO));
  env_.AddFault(ErrorFault(IoKind::kRead, EIO));
  std::vector<IoOp> sync = {Op(IoKind::kSync, file.get(), 0, nullptr, 0)};
  absl::Status status = RunToCompletion(*engine_, sync);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("fdatasync " + file->path()));
  char byte = 0;
  std::vector<IoOp> read = {Op(IoKind::kRead, file.get(), 0, &byte, 1)};
  status = RunToCompletion(*engine_, read);
  EXPECT_THAT(status.message(), HasSubstr("read " + file->path() + " at offset 0"));
  EXPECT_EQ(engine_->stats().syncs, 1u);
  EXPECT_EQ(engine_->stats().reads, 1u);
  EXPECT_EQ(env_.fired(), 2);
}

TEST_F(FaultInjectionEnvTest, ShortWritesAreCompletedByRunToCompletion) {
  std::unique_ptr<File> file = Open("short");
  ASSERT_NE(file, nullptr);
  Fault fault;
  fault.kind = IoKind::kWrite;
  fault.short_transfer = true;
  env_.AddFault(fault);

  std::string data(8192, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i % 253);
  }
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, data.data(), data.size())};
  ASSERT_TRUE(RunToCompletion(*engine_, ops).ok());
  EXPECT_EQ(ops[0].result, 8192);
  EXPECT_TRUE(Contents(*file) == data);
  // One submission of 4096 bytes, one resubmission of the other 4096.
  EXPECT_EQ(engine_->stats().writes, 2u);
  EXPECT_EQ(engine_->stats().bytes_written, 8192u);
}

TEST_F(FaultInjectionEnvTest, ShortTransfersForeverStillFinish) {
  std::unique_ptr<File> file = Open("trickle");
  ASSERT_NE(file, nullptr);
  Fault fault;
  fault.kind = IoKind::kWrite;
  fault.short_transfer = true;
  fault.count = -1;
  env_.AddFault(fault);
  std::string data = "a short record that trickles out";
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, data.data(), data.size())};
  ASSERT_TRUE(RunToCompletion(*engine_, ops).ok());
  EXPECT_EQ(Contents(*file), data);
  EXPECT_GT(engine_->stats().writes, 3u);

  // Short reads, too.
  fault.kind = IoKind::kRead;
  env_.AddFault(fault);
  std::string back(data.size(), '\0');
  std::vector<IoOp> read = {Op(IoKind::kRead, file.get(), 0, back.data(), back.size())};
  ASSERT_TRUE(RunToCompletion(*engine_, read).ok());
  EXPECT_EQ(back, data);
  EXPECT_GT(engine_->stats().reads, 3u);
}

TEST_F(FaultInjectionEnvTest, ShortDirectWritesStayAligned) {
  std::unique_ptr<File> file = Open("direct", /*direct=*/true);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->direct());
  Fault fault;
  fault.kind = IoKind::kWrite;
  fault.short_transfer = true;
  fault.count = -1;
  env_.AddFault(fault);
  constexpr size_t kSize = 4 * kDirectIoAlignment;
  AlignedBuffer buffer = MakeAligned(kSize);
  for (size_t i = 0; i < kSize; ++i) {
    buffer[i] = static_cast<char>(i % 241);
  }
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, buffer.get(), kSize)};
  ASSERT_TRUE(RunToCompletion(*engine_, ops).ok());
  // 16 KiB: 8 KiB, then 4 KiB, then the last 4 KiB cannot be halved legally and goes whole.
  EXPECT_EQ(engine_->stats().writes, 3u);
  EXPECT_TRUE(Contents(*file) == std::string(buffer.get(), kSize));
}

TEST_F(FaultInjectionEnvTest, CountMinusOneFiresUntilCleared) {
  std::unique_ptr<File> file = Open("forever");
  ASSERT_NE(file, nullptr);
  env_.AddFault(ErrorFault(IoKind::kWrite, EIO, /*skip=*/0, /*count=*/-1));
  std::string data = "x";
  for (int i = 0; i < 5; ++i) {
    std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, data.data(), 1)};
    EXPECT_FALSE(RunToCompletion(*engine_, ops).ok()) << i;
  }
  EXPECT_EQ(env_.fired(), 5);
  env_.ClearFaults();
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, data.data(), 1)};
  EXPECT_TRUE(RunToCompletion(*engine_, ops).ok());
  EXPECT_EQ(env_.fired(), 5);
}

TEST_F(FaultInjectionEnvTest, PathContainsFilters) {
  std::unique_ptr<File> victim = Open("victim.seg");
  std::unique_ptr<File> bystander = Open("bystander.seg");
  ASSERT_NE(victim, nullptr);
  ASSERT_NE(bystander, nullptr);
  Fault fault = ErrorFault(IoKind::kWrite, EIO, 0, -1);
  fault.path_contains = "victim";
  env_.AddFault(fault);
  std::string data = "data";
  std::vector<IoOp> ops = {Op(IoKind::kWrite, bystander.get(), 0, data.data(), 4),
                           Op(IoKind::kWrite, victim.get(), 0, data.data(), 4)};
  std::vector<absl::Status> per_op;
  absl::Status status = RunToCompletion(*engine_, ops, &per_op);
  EXPECT_THAT(status.message(), HasSubstr("victim.seg"));
  EXPECT_TRUE(per_op[0].ok());
  EXPECT_FALSE(per_op[1].ok());
  EXPECT_EQ(Contents(*bystander), data);

  // Skip counts only matching ops: the bystander's writes do not use it up.
  env_.ClearFaults();
  fault.count = 1;
  fault.skip = 1;
  env_.AddFault(fault);
  std::vector<IoOp> first = {Op(IoKind::kWrite, bystander.get(), 0, data.data(), 4),
                             Op(IoKind::kWrite, bystander.get(), 4, data.data(), 4),
                             Op(IoKind::kWrite, victim.get(), 0, data.data(), 4)};
  EXPECT_TRUE(RunToCompletion(*engine_, first).ok());
  std::vector<IoOp> second = {Op(IoKind::kWrite, victim.get(), 4, data.data(), 4)};
  EXPECT_FALSE(RunToCompletion(*engine_, second).ok());
}

TEST_F(FaultInjectionEnvTest, SetDiskSpaceOverrides) {
  auto real = env_.GetDiskSpace(dir_);
  ASSERT_TRUE(real.ok());
  DiskSpace fake;
  fake.capacity_bytes = 1000;
  fake.free_bytes = 10;
  env_.SetDiskSpace(fake);
  auto reported = env_.GetDiskSpace(dir_);
  ASSERT_TRUE(reported.ok());
  EXPECT_EQ(reported->capacity_bytes, 1000u);
  EXPECT_EQ(reported->free_bytes, 10u);
  env_.SetDiskSpace(std::nullopt);
  EXPECT_EQ(env_.GetDiskSpace(dir_).value().capacity_bytes, real->capacity_bytes);
}

TEST_F(FaultInjectionEnvTest, ForwardsFileSystemCalls) {
  ASSERT_TRUE(env_.CreateDirs(dir_ + "/x/y").ok());
  EXPECT_TRUE(env_.FileExists(dir_ + "/x/y"));
  EXPECT_TRUE(env_.SyncDir(dir_ + "/x").ok());
  EXPECT_EQ(env_.ListDir(dir_ + "/x").value(), std::vector<std::string>{"y"});
  ASSERT_NE(Open("x/y/f"), nullptr);
  EXPECT_TRUE(env_.RemoveFile(dir_ + "/x/y/f").ok());
  EXPECT_TRUE(env_.RemoveAll(dir_ + "/x").ok());
  EXPECT_FALSE(env_.FileExists(dir_ + "/x"));
}

using FaultInjectionEnvDeathTest = FaultInjectionEnvTest;

TEST_F(FaultInjectionEnvDeathTest, CrashKillsBeforeTheWrite) {
  // The default "fast" style forks: the child shares this test's file and fault set.
  std::unique_ptr<File> file = Open("crash");
  ASSERT_NE(file, nullptr);
  Fault crash;
  crash.kind = IoKind::kWrite;
  crash.crash = true;
  crash.skip = 1;
  env_.AddFault(crash);
  // Runs in the forked child. The first write passes (skip = 1); the batch with the second write
  // kills the process before any of it reaches the file.
  auto write_and_crash = [&] {
    std::string data = "lost";
    // A ring of the child's own: the parent's ring is memory shared with the parent.
    std::unique_ptr<IoEngine> engine = env_.NewIoEngine(4).value();
    std::vector<IoOp> first = {Op(IoKind::kWrite, file.get(), 0, data.data(), 4)};
    if (!RunToCompletion(*engine, first).ok()) {
      std::exit(1);
    }
    std::vector<IoOp> second = {Op(IoKind::kWrite, file.get(), 4, data.data(), 4),
                                Op(IoKind::kWrite, file.get(), 8, data.data(), 4)};
    (void)RunToCompletion(*engine, second);
    std::exit(0);
  };
  EXPECT_EXIT(write_and_crash(), ::testing::KilledBySignal(SIGKILL), "");
  // Only the write before the crash reached the file.
  EXPECT_EQ(Contents(*file), "lost");
}

}  // namespace
}  // namespace shuffle::storage
