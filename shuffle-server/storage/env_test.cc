#include "shuffle-server/storage/env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace shuffle::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char[], FreeDeleter>;

// A buffer fit for O_DIRECT: address and size aligned to kDirectIoAlignment.
AlignedBuffer MakeAligned(size_t size) {
  return AlignedBuffer(static_cast<char*>(std::aligned_alloc(kDirectIoAlignment, size)));
}

void Fill(char* p, size_t size, uint32_t seed) {
  for (size_t i = 0; i < size; ++i) {
    p[i] = static_cast<char>((i * 131 + seed * 7919) % 251);
  }
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

// A fresh directory per test, removed afterwards. Under /tmp (ext4: O_DIRECT works) unless
// the test asks for another parent.
class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = tmp_.path(); }
  void TearDown() override {
    for (const std::string& dir : {dir_, extra_dir_}) {
      if (!dir.empty()) {
        EXPECT_TRUE(env_->RemoveAll(dir).ok()) << dir;
      }
    }
  }

  std::unique_ptr<File> Open(const std::string& name, OpenOptions options = {}) {
    auto file = env_->OpenFile(dir_ + "/" + name, options);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? std::move(file).value() : nullptr;
  }

  std::unique_ptr<IoEngine> Engine(uint32_t depth = 32) {
    auto engine = env_->NewIoEngine(depth);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(engine).value() : nullptr;
  }

  Env* env_ = Env::Default();
  testsupport::TempDir tmp_{"env_test.", "/tmp"};  // ext4 here: O_DIRECT works
  std::optional<testsupport::TempDir> shm_;
  std::string dir_;
  std::string extra_dir_;
};

TEST_F(EnvTest, DefaultIsASingleton) { EXPECT_EQ(Env::Default(), Env::Default()); }

TEST_F(EnvTest, DirectWriteSyncReadRoundTrip) {
  OpenOptions options;
  options.direct = true;
  std::unique_ptr<File> file = Open("seg", options);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->direct()) << "O_DIRECT refused on /tmp";
  std::unique_ptr<IoEngine> engine = Engine();
  ASSERT_NE(engine, nullptr);

  constexpr size_t kChunk = 4 * kDirectIoAlignment;
  constexpr int kChunks = 4;
  AlignedBuffer out = MakeAligned(kChunk * kChunks);
  Fill(out.get(), kChunk * kChunks, 1);
  std::vector<IoOp> writes;
  writes.reserve(kChunks);
  for (int i = 0; i < kChunks; ++i) {
    writes.push_back(Op(IoKind::kWrite, file.get(), i * kChunk, out.get() + i * kChunk, kChunk));
  }
  ASSERT_TRUE(RunToCompletion(*engine, writes).ok());
  for (const IoOp& op : writes) {
    EXPECT_EQ(op.result, static_cast<int64_t>(kChunk));
  }
  std::vector<IoOp> sync = {Op(IoKind::kSync, file.get(), 0, nullptr, 0)};
  ASSERT_TRUE(RunToCompletion(*engine, sync).ok());

  AlignedBuffer in = MakeAligned(kChunk * kChunks);
  std::memset(in.get(), 0, kChunk * kChunks);
  std::vector<IoOp> reads;
  reads.reserve(kChunks);
  for (int i = kChunks - 1; i >= 0; --i) {
    reads.push_back(Op(IoKind::kRead, file.get(), i * kChunk, in.get() + i * kChunk, kChunk));
  }
  ASSERT_TRUE(engine->Submit(reads).ok());
  for (const IoOp& op : reads) {
    EXPECT_EQ(op.result, static_cast<int64_t>(kChunk));
  }
  EXPECT_EQ(std::memcmp(in.get(), out.get(), kChunk * kChunks), 0);
  auto size = file->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, kChunk * kChunks);
}

TEST_F(EnvTest, BatchLargerThanQueueDepth) {
  OpenOptions options;
  options.direct = true;
  std::unique_ptr<File> file = Open("big", options);
  ASSERT_NE(file, nullptr);
  std::unique_ptr<IoEngine> engine = Engine(32);
  ASSERT_NE(engine, nullptr);

  constexpr int kOps = 300;
  constexpr size_t kSize = kDirectIoAlignment;
  AlignedBuffer out = MakeAligned(kOps * kSize);
  Fill(out.get(), kOps * kSize, 2);
  std::vector<IoOp> writes;
  writes.reserve(kOps);
  for (int i = 0; i < kOps; ++i) {
    writes.push_back(Op(IoKind::kWrite, file.get(), i * kSize, out.get() + i * kSize, kSize));
  }
  ASSERT_TRUE(engine->Submit(writes).ok());
  for (const IoOp& op : writes) {
    ASSERT_EQ(op.result, static_cast<int64_t>(kSize));
  }

  AlignedBuffer in = MakeAligned(kOps * kSize);
  std::vector<IoOp> reads;
  reads.reserve(kOps);
  for (int i = 0; i < kOps; ++i) {
    reads.push_back(Op(IoKind::kRead, file.get(), i * kSize, in.get() + i * kSize, kSize));
  }
  ASSERT_TRUE(RunToCompletion(*engine, reads).ok());
  EXPECT_EQ(std::memcmp(in.get(), out.get(), kOps * kSize), 0);
  EXPECT_EQ(engine->stats().writes, uint64_t{kOps});
  EXPECT_EQ(engine->stats().reads, uint64_t{kOps});
}

// procfs refuses O_DIRECT with EINVAL, so OpenFile falls back to buffered I/O. (tmpfs used to,
// but has accepted O_DIRECT since Linux 6.6; see DirectOnTmpfs.)
TEST_F(EnvTest, BufferedFallbackWhenDirectIsRefused) {
  OpenOptions options;
  options.direct = true;
  options.create = false;
  options.read_only = true;
  auto file = env_->OpenFile("/proc/version", options);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE((*file)->direct());
  EXPECT_EQ(fcntl((*file)->fd(), F_GETFL) & O_DIRECT, 0);

  std::unique_ptr<IoEngine> engine = Engine();
  ASSERT_NE(engine, nullptr);
  // Unaligned offset, length and buffer: fine without O_DIRECT.
  std::string text(13, '\0');
  std::vector<IoOp> read = {Op(IoKind::kRead, file->get(), 1, text.data(), text.size())};
  ASSERT_TRUE(RunToCompletion(*engine, read).ok());
  EXPECT_EQ(text, "inux version ");
}

// tmpfs: whether or not the kernel grants O_DIRECT (it does since 6.6), aligned I/O works and
// direct() tells the truth.
TEST_F(EnvTest, DirectOnTmpfs) {
  extra_dir_ = shm_.emplace("env_test.", "/dev/shm").path();
  OpenOptions options;
  options.direct = true;
  auto file = env_->OpenFile(extra_dir_ + "/seg", options);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->direct(), (fcntl((*file)->fd(), F_GETFL) & O_DIRECT) != 0);

  std::unique_ptr<IoEngine> engine = Engine();
  ASSERT_NE(engine, nullptr);
  AlignedBuffer out = MakeAligned(kDirectIoAlignment);
  Fill(out.get(), kDirectIoAlignment, 3);
  std::vector<IoOp> write = {
      Op(IoKind::kWrite, file->get(), kDirectIoAlignment, out.get(), kDirectIoAlignment),
      Op(IoKind::kSync, file->get(), 0, nullptr, 0)};
  ASSERT_TRUE(RunToCompletion(*engine, write).ok());
  AlignedBuffer in = MakeAligned(kDirectIoAlignment);
  std::vector<IoOp> read = {
      Op(IoKind::kRead, file->get(), kDirectIoAlignment, in.get(), kDirectIoAlignment)};
  ASSERT_TRUE(RunToCompletion(*engine, read).ok());
  EXPECT_EQ(std::memcmp(in.get(), out.get(), kDirectIoAlignment), 0);
}

TEST_F(EnvTest, TruncateAndSize) {
  std::unique_ptr<File> file = Open("t");
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(file->direct());
  ASSERT_EQ(file->Size().value_or(99), 0u);
  ASSERT_TRUE(file->Truncate(12345).ok());
  EXPECT_EQ(file->Size().value_or(0), 12345u);
  ASSERT_TRUE(file->Truncate(10).ok());
  EXPECT_EQ(file->Size().value_or(0), 10u);
}

TEST_F(EnvTest, OpenFlags) {
  OpenOptions no_create;
  no_create.create = false;
  auto missing = env_->OpenFile(dir_ + "/missing", no_create);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_ + "/missing"));

  ASSERT_NE(Open("ro"), nullptr);
  OpenOptions read_only;
  read_only.read_only = true;
  std::unique_ptr<File> file = Open("ro", read_only);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(fcntl(file->fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_NE(fcntl(file->fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(file->path(), dir_ + "/ro");

  // A write to a read-only file fails with EBADF, reported with the path and offset.
  std::unique_ptr<IoEngine> engine = Engine();
  ASSERT_NE(engine, nullptr);
  std::string text = "x";
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 7, text.data(), 1)};
  absl::Status status = RunToCompletion(*engine, ops);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("write " + dir_ + "/ro at offset 7"));
  EXPECT_THAT(status.message(), HasSubstr("Bad file descriptor"));
}

TEST_F(EnvTest, Directories) {
  const std::string nested = dir_ + "/a/b/c";
  ASSERT_TRUE(env_->CreateDirs(nested).ok());
  ASSERT_TRUE(env_->CreateDirs(nested).ok());        // already there
  ASSERT_TRUE(env_->CreateDirs(nested + "/").ok());  // trailing slash
  EXPECT_TRUE(env_->FileExists(nested));
  ASSERT_NE(Open("a/b/c/f2"), nullptr);
  ASSERT_NE(Open("a/b/c/f1"), nullptr);
  ASSERT_TRUE(env_->CreateDirs(nested + "/sub").ok());
  auto names = env_->ListDir(nested);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("f1", "f2", "sub"));
  EXPECT_TRUE(env_->SyncDir(nested).ok());

  ASSERT_TRUE(env_->RemoveFile(nested + "/f1").ok());
  EXPECT_FALSE(env_->FileExists(nested + "/f1"));
  absl::Status again = env_->RemoveFile(nested + "/f1");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr(nested + "/f1"));

  ASSERT_TRUE(env_->RemoveAll(dir_ + "/a").ok());
  EXPECT_FALSE(env_->FileExists(dir_ + "/a"));
  EXPECT_TRUE(env_->RemoveAll(dir_ + "/a").ok());  // missing is fine
  auto missing = env_->ListDir(dir_ + "/a");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_ + "/a"));
  EXPECT_EQ(env_->SyncDir(dir_ + "/a").code(), absl::StatusCode::kNotFound);
  auto empty = env_->ListDir(dir_);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  // mkdir -p through a regular file fails, naming the path.
  ASSERT_NE(Open("plain"), nullptr);
  absl::Status through_file = env_->CreateDirs(dir_ + "/plain/x");
  EXPECT_FALSE(through_file.ok());
  EXPECT_THAT(through_file.message(), HasSubstr(dir_ + "/plain/x"));
}

TEST_F(EnvTest, DiskSpaceIsSane) {
  auto space = env_->GetDiskSpace(dir_);
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_GT(space->capacity_bytes, 0u);
  EXPECT_LE(space->free_bytes, space->capacity_bytes);
  auto missing = env_->GetDiskSpace(dir_ + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EnvTest, ReadPastEndOfFileIsDataLoss) {
  std::unique_ptr<File> file = Open("short");
  ASSERT_NE(file, nullptr);
  std::unique_ptr<IoEngine> engine = Engine();
  ASSERT_NE(engine, nullptr);
  std::string data(100, 'd');
  std::vector<IoOp> write = {Op(IoKind::kWrite, file.get(), 0, data.data(), data.size())};
  ASSERT_TRUE(RunToCompletion(*engine, write).ok());

  std::string good(50, '\0');
  std::string past(200, '\0');
  std::vector<IoOp> reads = {Op(IoKind::kRead, file.get(), 60, past.data(), past.size()),
                             Op(IoKind::kRead, file.get(), 0, good.data(), good.size())};
  std::vector<absl::Status> per_op;
  absl::Status status = RunToCompletion(*engine, reads, &per_op);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("unexpected end of file reading " + file->path()));
  EXPECT_THAT(status.message(), HasSubstr("at offset 100 (wanted 160 more bytes)"));
  ASSERT_EQ(per_op.size(), 2u);
  EXPECT_EQ(per_op[0], status);
  EXPECT_TRUE(per_op[1].ok());
  EXPECT_EQ(good, std::string(50, 'd'));
  EXPECT_EQ(reads[0].result, 40);  // the bytes that were there
}

TEST_F(EnvTest, StatsCountOpsAndBytes) {
  std::unique_ptr<File> file = Open("stats");
  ASSERT_NE(file, nullptr);
  std::unique_ptr<IoEngine> engine = Engine(4);
  ASSERT_NE(engine, nullptr);
  std::string data(1000, 's');
  std::vector<IoOp> ops = {Op(IoKind::kWrite, file.get(), 0, data.data(), 600),
                           Op(IoKind::kWrite, file.get(), 600, data.data(), 400),
                           Op(IoKind::kSync, file.get(), 0, nullptr, 0)};
  ASSERT_TRUE(RunToCompletion(*engine, ops).ok());
  std::string back(1000, '\0');
  std::vector<IoOp> reads = {Op(IoKind::kRead, file.get(), 0, back.data(), 1000),
                             Op(IoKind::kRead, file.get(), 2000, back.data(), 10)};
  ASSERT_TRUE(engine->Submit(reads).ok());
  EXPECT_EQ(reads[0].result, 1000);
  EXPECT_EQ(reads[1].result, 0);  // at end of file: the engine reports, it does not judge
  const IoStats& stats = engine->stats();
  EXPECT_EQ(stats.writes, 2u);
  EXPECT_EQ(stats.syncs, 1u);
  EXPECT_EQ(stats.reads, 2u);
  EXPECT_EQ(stats.bytes_written, 1000u);
  EXPECT_EQ(stats.bytes_read, 1000u);
}

TEST_F(EnvTest, BadQueueDepthIsRejected) {
  EXPECT_EQ(env_->NewIoEngine(0).status().code(), absl::StatusCode::kInvalidArgument);
  // Beyond the kernel's limit (32768 entries): io_uring_queue_init fails, and says so.
  auto huge = env_->NewIoEngine(1u << 20);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(huge.status().message(), HasSubstr("io_uring is unavailable"));
  EXPECT_THAT(huge.status().message(), HasSubstr("io_uring_queue_init"));
}

TEST_F(EnvTest, EmptyBatchAndZeroLengthOps) {
  std::unique_ptr<IoEngine> engine = Engine();
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(engine->Submit({}).ok());
  EXPECT_TRUE(RunToCompletion(*engine, {}).ok());
  std::unique_ptr<File> file = Open("zero");
  ASSERT_NE(file, nullptr);
  std::vector<IoOp> ops = {Op(IoKind::kRead, file.get(), 0, nullptr, 0)};
  EXPECT_TRUE(RunToCompletion(*engine, ops).ok());
  EXPECT_EQ(engine->stats().reads, 0u);
}

}  // namespace
}  // namespace shuffle::storage
