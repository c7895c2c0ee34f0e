#include "shuffle/core/ready_file.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shuffle/core/files.h"

namespace shuffle::core {
namespace {

using ::testing::HasSubstr;

std::string Error(std::string_view text) {
  absl::StatusOr<ReadyFile> file = ReadyFile::Parse(text, "/run/ready");
  EXPECT_FALSE(file.ok()) << text;
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(file.status().message());
}

TEST(ReadyFileTest, FormatIsOneKeyALineAfterTheVersion) {
  ReadyFile file;
  file.Set(ReadyFile::kData, Endpoint::Tcp("127.0.0.1", 4000));
  file.Set(ReadyFile::kControl, Endpoint::Tcp("::1", 5000));
  file.Set(ReadyFile::kSocket, Endpoint::Unix("/run/shuffle.sock"));
  EXPECT_EQ(file.Format(),
            "version=1\n"
            "data=127.0.0.1:4000\n"
            "control=[::1]:5000\n"
            "socket=unix:/run/shuffle.sock\n");
  file.Set(ReadyFile::kData, Endpoint::Tcp("127.0.0.1", 4001));  // replaces
  EXPECT_EQ(file.Find(ReadyFile::kData)->port(), 4001);
  EXPECT_FALSE(file.Find(ReadyFile::kMetrics).has_value());  // that listener is off

  absl::StatusOr<ReadyFile> back = ReadyFile::Parse(file.Format(), "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Find(ReadyFile::kControl)->ToString(), "[::1]:5000");
  EXPECT_EQ(back->Find(ReadyFile::kSocket)->path(), "/run/shuffle.sock");
  EXPECT_EQ(back->entries().size(), 3u);
}

TEST(ReadyFileTest, ReadersIgnoreWhatTheyDoNotKnow) {
  absl::StatusOr<ReadyFile> file = ReadyFile::Parse(
      "# written by a newer server\r\n"
      "version=1\r\n"
      "\n"
      "data=10.0.0.1:7337\n"
      "spark-ess=10.0.0.1:7447\n"
      "pid=4242\n"
      "some-future-key=a value with spaces = and signs\n",
      "test");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Find(ReadyFile::kData)->ToString(), "10.0.0.1:7337");
  EXPECT_EQ(file->entries().size(), 1u);
}

TEST(ReadyFileTest, ErrorsNameTheFileAndLine) {
  EXPECT_THAT(Error(""), HasSubstr("ready file /run/ready line 1: no version=N line"));
  EXPECT_THAT(Error("data=h:1\n"), HasSubstr("line 1: the first line must be version=N"));
  EXPECT_THAT(Error("version=2\ndata=h:1\n"), HasSubstr("version 2 is not the version"));
  EXPECT_THAT(Error("version=1\ndata h:1\n"), HasSubstr("line 2: expected KEY=VALUE"));
  EXPECT_THAT(Error("version=1\nData=h:1\n"), HasSubstr("bad key \"Data\""));
  EXPECT_THAT(Error("version=1\ndata=h\n"), HasSubstr("line 2: address \"h\": no port"));
  EXPECT_THAT(Error("version=1\ndata=h:1\ndata=h:2\n"), HasSubstr("line 3: key data is given"));
}

TEST(ReadyFileTest, WrittenAtomicallyAndAwaited) {
  absl::StatusOr<std::string> dir = MakeTempDir("ready-file-test-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = *dir + "/ready";
  auto soon = [] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(100); };
  EXPECT_TRUE(absl::IsNotFound(ReadyFile::Read(path).status()));
  EXPECT_TRUE(absl::IsDeadlineExceeded(AwaitReadyFile(path, soon(), nullptr).status()));
  int calls = 0;
  const auto later = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  absl::StatusOr<ReadyFile> gone = AwaitReadyFile(path, later, [&calls] {
    return ++calls < 2 ? absl::OkStatus() : absl::InternalError("the server exited");
  });
  EXPECT_EQ(gone.status().message(), "the server exited");

  ReadyFile file;
  file.Set(ReadyFile::kMetrics, Endpoint::Tcp("0.0.0.0", 7339));
  ASSERT_TRUE(file.Write(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  absl::StatusOr<ReadyFile> read =
      AwaitReadyFile(path, std::chrono::steady_clock::now() + std::chrono::seconds(5), nullptr);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->Find(ReadyFile::kMetrics)->port(), 7339);
  std::ofstream(path) << "garbage\n";
  EXPECT_THAT(std::string(AwaitReadyFile(path, soon(), nullptr).status().message()),
              HasSubstr("line 1: expected KEY=VALUE, got \"garbage\""));
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace shuffle::core
