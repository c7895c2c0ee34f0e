#include "shuffle/core/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

TEST(LoggingTest, LogfmtQuotesOnlyWhenNeeded) {
  std::string line = FormatLogLine(LogFormat::kLogfmt, LogLevel::kWarning, "/a/b/engine.cc", 42,
                                   "disk low", {{"dir", "/data/1"}, {"note", "say \"hi\""}});
  EXPECT_NE(line.find(" level=warning src=engine.cc:42 msg=\"disk low\" dir=/data/1 "
                      "note=\"say \\\"hi\\\"\"\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.rfind("ts=", 0), 0u);
}

TEST(LoggingTest, JsonEscapes) {
  std::string line =
      FormatLogLine(LogFormat::kJson, LogLevel::kInfo, "x.cc", 1, "a\nb", {{"k", "v\"\\"}});
  EXPECT_NE(
      line.find("\"level\":\"info\",\"src\":\"x.cc:1\",\"msg\":\"a\\nb\",\"k\":\"v\\\"\\\\\"}"),
      std::string::npos)
      << line;
}

TEST(LoggingTest, MacroWritesFieldsAndHonoursLevel) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  SetLogFd(fds[1]);
  SetLogLevel(LogLevel::kInfo);
  SHUFFLE_LOG(DEBUG) << "hidden";
  SHUFFLE_LOG(INFO) << "shown " << 7 << Kv("shuffle", 3);
  SetLogFd(2);
  close(fds[1]);
  char buf[512];
  ssize_t n = read(fds[0], buf, sizeof(buf));
  close(fds[0]);
  ASSERT_GT(n, 0);
  std::string out(buf, static_cast<size_t>(n));
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("msg=\"shown 7\" shuffle=3"), std::string::npos) << out;
}

TEST(LoggingTest, RecentProblemLinesKeepTheLastWarningsAndErrors) {
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(null_fd, 0);
  SetLogFd(null_fd);
  SHUFFLE_LOG(INFO) << "not a problem";
  for (size_t i = 0; i < kRecentProblemLines + 5; ++i) {
    SHUFFLE_LOG(WARNING) << "problem " << i;
  }
  SHUFFLE_LOG(ERROR) << "the last one";
  SetLogFd(2);
  ::close(null_fd);
  const std::vector<std::string> lines = RecentProblemLines();
  ASSERT_EQ(lines.size(), kRecentProblemLines);
  EXPECT_NE(lines.front().find("msg=\"problem 6\""), std::string::npos) << lines.front();
  EXPECT_NE(lines.back().find("level=error"), std::string::npos) << lines.back();
  EXPECT_NE(lines.back().find("the last one"), std::string::npos);
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("not a problem"), std::string::npos);
  }
}

TEST(LoggingTest, ParseNames) {
  EXPECT_EQ(*ParseLogLevel("WARN"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogLevel("loud").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoggingDeathTest, CheckAbortsWithCondition) {
  EXPECT_DEATH({ SHUFFLE_CHECK(1 + 1 == 3) << "math"; }, "check failed: 1 \\+ 1 == 3 math");
}

}  // namespace
}  // namespace shuffle::core
