#include "shuffle/core/ready_file.h"

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/files.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {
namespace {

constexpr std::string_view kVersionKey = "version";

bool ValidKey(std::string_view key) {
  if (key.empty()) {
    return false;
  }
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

bool KnownKey(std::string_view key) {
  return key == ReadyFile::kData || key == ReadyFile::kSocket || key == ReadyFile::kControl ||
         key == ReadyFile::kMetrics || key == ReadyFile::kSpark;
}

absl::Status Bad(std::string_view origin, size_t line, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("ready file ", ToAbsl(origin), " line ", line,
                                                 ": ", ToAbsl(problem),
                                                 " (see docs/ready-file.md)"));
}

}  // namespace

void ReadyFile::Set(std::string_view key, const Endpoint& endpoint) {
  SHUFFLE_CHECK(ValidKey(key) && key != kVersionKey) << "bad ready-file key '" << key << "'";
  for (auto& [k, e] : entries_) {
    if (k == key) {
      e = endpoint;
      return;
    }
  }
  entries_.emplace_back(std::string(key), endpoint);
}

std::optional<Endpoint> ReadyFile::Find(std::string_view key) const {
  for (const auto& [k, e] : entries_) {
    if (k == key) {
      return e;
    }
  }
  return std::nullopt;
}

std::string ReadyFile::Format() const {
  std::string text = absl::StrCat(ToAbsl(kVersionKey), "=", kVersion, "\n");
  for (const auto& [key, endpoint] : entries_) {
    absl::StrAppend(&text, key, "=", endpoint.ToString(), "\n");
  }
  return text;
}

absl::StatusOr<ReadyFile> ReadyFile::Parse(std::string_view text, std::string_view origin) {
  ReadyFile file;
  bool versioned = false;
  size_t number = 0;
  for (absl::string_view raw : absl::StrSplit(ToAbsl(text), '\n')) {
    ++number;
    std::string_view line = FromAbsl(raw);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Bad(origin, number, absl::StrCat("expected KEY=VALUE, got \"", ToAbsl(line), "\""));
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (!versioned) {
      int version = 0;
      if (key != kVersionKey || !absl::SimpleAtoi(ToAbsl(value), &version)) {
        return Bad(origin, number, "the first line must be version=N");
      }
      if (version != kVersion) {
        return Bad(origin, number,
                   absl::StrCat("version ", version, " is not the version this reader knows (",
                                kVersion, "); use a reader of the same release as the server"));
      }
      versioned = true;
      continue;
    }
    if (!ValidKey(key)) {
      return Bad(origin, number, absl::StrCat("bad key \"", ToAbsl(key), "\""));
    }
    if (!KnownKey(key)) {
      continue;  // written by a newer server: not ours to read
    }
    if (file.Find(key).has_value()) {
      return Bad(origin, number, absl::StrCat("key ", ToAbsl(key), " is given twice"));
    }
    absl::StatusOr<Endpoint> endpoint = Endpoint::Parse(value);
    if (!endpoint.ok()) {
      return Bad(origin, number, FromAbsl(endpoint.status().message()));
    }
    file.entries_.emplace_back(std::string(key), *std::move(endpoint));
  }
  if (!versioned) {
    return Bad(origin, number, "no version=N line (an empty file?)");
  }
  return file;
}

absl::Status ReadyFile::Write(const std::string& path) const {
  return Annotate(WriteFileAtomically(path, Format()), "writing the ready file");
}

absl::StatusOr<ReadyFile> ReadyFile::Read(const std::string& path) {
  SHUFFLE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return Parse(text, path);
}

absl::StatusOr<ReadyFile> AwaitReadyFile(const std::string& path,
                                         std::chrono::steady_clock::time_point deadline,
                                         const std::function<absl::Status()>& alive,
                                         std::chrono::milliseconds poll) {
  for (;;) {
    absl::StatusOr<ReadyFile> file = ReadyFile::Read(path);
    if (file.ok() || !absl::IsNotFound(file.status())) {
      return file;
    }
    if (alive) {
      SHUFFLE_RETURN_IF_ERROR(alive());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no ready file ", path, " before the deadline"));
    }
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace shuffle::core
