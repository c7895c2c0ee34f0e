#include "shuffle/core/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kLogfmt};
std::atomic<int> g_fd{2};

// The recent warning and error lines (RecentProblemLines).
struct ProblemRing {
  std::mutex mu;
  std::deque<std::string> lines;
};
ProblemRing& Problems() {
  static ProblemRing* const ring = new ProblemRing();  // never destroyed: logged from any thread
  return *ring;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kFatal:
      return "fatal";
  }
  return "unknown";
}

std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int the compiler assumes tm fields may hold
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// logfmt: bare when the value has no space, quote or '='; quoted with escapes otherwise.
void AppendLogfmtValue(std::string* out, std::string_view v) {
  bool bare = !v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      bare = false;
      break;
    }
  }
  if (bare) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('"');
}

void AppendJsonString(std::string* out, std::string_view v) {
  out->push_back('"');
  for (char c : v) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(level); }
LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }
void SetLogFormat(LogFormat format) { g_format.store(format); }
void SetLogFd(int fd) { g_fd.store(fd); }

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(ToAbsl(name));
  if (lower == "debug") {
    return LogLevel::kDebug;
  }
  if (lower == "info") {
    return LogLevel::kInfo;
  }
  if (lower == "warning" || lower == "warn") {
    return LogLevel::kWarning;
  }
  if (lower == "error") {
    return LogLevel::kError;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", ToAbsl(name), "': use debug, info, warning or error"));
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(ToAbsl(name));
  if (lower == "logfmt" || lower == "text") {
    return LogFormat::kLogfmt;
  }
  if (lower == "json") {
    return LogFormat::kJson;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format '", ToAbsl(name), "': use logfmt or json"));
}

std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view file, int line,
                          std::string_view message,
                          const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  const std::string src = absl::StrCat(ToAbsl(Basename(file)), ":", line);
  if (format == LogFormat::kJson) {
    out.append("{\"ts\":");
    AppendJsonString(&out, Timestamp());
    out.append(",\"level\":");
    AppendJsonString(&out, LevelName(level));
    out.append(",\"src\":");
    AppendJsonString(&out, src);
    out.append(",\"msg\":");
    AppendJsonString(&out, message);
    for (const auto& [key, value] : fields) {
      out.push_back(',');
      AppendJsonString(&out, key);
      out.push_back(':');
      AppendJsonString(&out, value);
    }
    out.append("}\n");
    return out;
  }
  absl::StrAppend(&out, "ts=", Timestamp(), " level=", ToAbsl(LevelName(level)), " src=", src,
                  " msg=");
  AppendLogfmtValue(&out, message);
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, " ", key, "=");
    AppendLogfmtValue(&out, value);
  }
  out.push_back('\n');
  return out;
}

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

std::vector<std::string> RecentProblemLines() {
  ProblemRing& ring = Problems();
  const std::lock_guard<std::mutex> lock(ring.mu);
  return {ring.lines.begin(), ring.lines.end()};
}

LogMessage::~LogMessage() {
  const std::string text =
      FormatLogLine(g_format.load(), level_, file_, line_, message_.str(), fields_);
  if (level_ >= LogLevel::kWarning) {
    ProblemRing& ring = Problems();
    const std::lock_guard<std::mutex> lock(ring.mu);
    if (ring.lines.size() == kRecentProblemLines) {
      ring.lines.pop_front();
    }
    ring.lines.push_back(text);
  }
  const int fd = g_fd.load();
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      break;  // Nowhere left to report a logging failure.
    }
    written += static_cast<size_t>(n);
  }
  if (level_ == LogLevel::kFatal) {
    std::abort();
  }
}

}  // namespace shuffle::core
