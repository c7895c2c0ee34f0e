// Structured logging to stderr, one line per event, as logfmt (default) or JSON lines:
//
//   SHUFFLE_LOG(INFO) << "recovered index" << Kv("shuffles", 3) << Kv("dir", path);
//   ts=2026-11-23T19:50:00.123Z level=info src=engine.cc:42 msg="recovered index" shuffles=3 ...
//
// Streamed values form the message; Kv() values become fields. Configuration is process-wide
// and set at start-up; emitting is thread-safe (each line is written with one write(2)).
#ifndef SHUFFLE_CORE_LOGGING_H_
#define SHUFFLE_CORE_LOGGING_H_

#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace shuffle::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };
enum class LogFormat { kLogfmt, kJson };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void SetLogFormat(LogFormat format);
// Accepts "debug", "info", "warning", "error".
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);
// Accepts "logfmt", "text" (same) and "json".
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);
// Redirects output to a file descriptor (default 2). For tests.
void SetLogFd(int fd);

// The last kRecentProblemLines lines logged at warning level or above, oldest first, as they were
// written (format and trailing newline included); the status page's "recent errors".
inline constexpr size_t kRecentProblemLines = 50;
std::vector<std::string> RecentProblemLines();

inline bool LogEnabled(LogLevel level) { return level >= GetLogLevel(); }

// A named field of a log line.
struct Kv {
  template <typename T>
  Kv(std::string_view k, const T& v) : key(k) {
    std::ostringstream os;
    os << v;
    value = os.str();
  }
  std::string key;
  std::string value;
};

// One log line under construction; emitted by the destructor. A kFatal line aborts the process
// after it is written.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  LogMessage& operator<<(const Kv& field) {
    fields_.emplace_back(field.key, field.value);
    return *this;
  }
  template <typename T>
  LogMessage& operator<<(const T& value) {
    message_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream message_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Formats one line without emitting it (exposed for tests).
std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view file, int line,
                          std::string_view message,
                          const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace shuffle::core

#define SHUFFLE_LOG_LEVEL_DEBUG ::shuffle::core::LogLevel::kDebug
#define SHUFFLE_LOG_LEVEL_INFO ::shuffle::core::LogLevel::kInfo
#define SHUFFLE_LOG_LEVEL_WARNING ::shuffle::core::LogLevel::kWarning
#define SHUFFLE_LOG_LEVEL_ERROR ::shuffle::core::LogLevel::kError
#define SHUFFLE_LOG_LEVEL_FATAL ::shuffle::core::LogLevel::kFatal

#define SHUFFLE_LOG(severity)                                       \
  if (!::shuffle::core::LogEnabled(SHUFFLE_LOG_LEVEL_##severity)) { \
  } else                                                            \
    ::shuffle::core::LogMessage(SHUFFLE_LOG_LEVEL_##severity, __FILE__, __LINE__)

// "Can't happen" checks: logs the condition and aborts. Not for errors the environment can cause.
#define SHUFFLE_CHECK(condition)                                                       \
  if (__builtin_expect(static_cast<bool>(condition), 1)) {                             \
  } else                                                                               \
    ::shuffle::core::LogMessage(::shuffle::core::LogLevel::kFatal, __FILE__, __LINE__) \
        << "check failed: " #condition " "

#endif  // SHUFFLE_CORE_LOGGING_H_
