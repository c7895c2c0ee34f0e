#include "shuffle/core/files.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {

std::string TempRoot() {
  const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): read-only use
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

absl::StatusOr<std::string> MakeTempDir(std::string_view prefix, std::string_view parent) {
  std::string pattern =
      absl::StrCat(parent.empty() ? TempRoot() : ToAbsl(parent), "/", ToAbsl(prefix), "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return ErrnoToStatus(errno, "mkdtemp", pattern);
  }
  return pattern;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ErrnoToStatus(errno != 0 ? errno : ENOENT, "open", path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("read ", path, ": read error"));
  }
  return std::move(text).str();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write ", tmp, ": check that its directory exists and is writable"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", tmp, " to"), path);
  }
  return absl::OkStatus();
}

}  // namespace shuffle::core
