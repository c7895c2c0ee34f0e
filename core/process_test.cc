#include "shuffle/core/process.h"

#include <csignal>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shuffle/core/files.h"

namespace shuffle::core {
namespace {

using ::testing::HasSubstr;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = MakeTempDir("process-test-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ProcessTest, RunsWithEnvironmentAndSeparateOutputs) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo out $GREETING; echo err >&2; exit 3"};
  spec.env = {{"GREETING", "hello"}};
  spec.stdout_path = dir_ + "/out";
  spec.stderr_path = dir_ + "/err";
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Spawn(spec);
  ASSERT_TRUE(p.ok()) << p.status();
  std::optional<ExitInfo> exit = (*p)->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->Describe(), "exit code 3");
  EXPECT_EQ(*ReadFileToString(dir_ + "/out"), "out hello\n");
  EXPECT_EQ(*ReadFileToString(dir_ + "/err"), "err\n");
}

TEST_F(ProcessTest, LogTailStopAndMissingBinary) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo started; exec sleep 60"};
  spec.log_path = dir_ + "/log";
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Spawn(spec);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)->running());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (LogTail(spec.log_path, 100).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*p)->Stop(std::chrono::seconds(5)).signal, SIGTERM);
  EXPECT_FALSE((*p)->running());
  EXPECT_EQ(LogTail(dir_ + "/log", 4), "ted\n");

  ProcessSpec missing_binary;
  missing_binary.argv = {dir_ + "/no-such-binary"};
  absl::StatusOr<std::unique_ptr<Process>> missing = Process::Spawn(missing_binary);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ((*missing)->Wait(std::chrono::seconds(30))->exit_code, 127);
  ProcessSpec bad_log;
  bad_log.argv = {"/bin/true"};
  bad_log.log_path = dir_ + "/no/log";
  EXPECT_THAT(std::string(Process::Spawn(bad_log).status().message()),
              HasSubstr("cannot open log file " + dir_ + "/no/log"));
  EXPECT_FALSE(Process::Spawn(ProcessSpec()).ok());
}

}  // namespace
}  // namespace shuffle::core
