// Small file-system helpers every component needs the same way: a new temporary directory, a
// whole file as a string, and a file replaced atomically (written under a temporary name, then
// renamed, so a reader sees the old file, no file, or the whole new one; never part of it).
// Errors are absl::Status naming the path. Pure functions over the file system; thread-safe.
#ifndef SHUFFLE_CORE_FILES_H_
#define SHUFFLE_CORE_FILES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shuffle::core {

// Creates a new directory "<parent>/<prefix>XXXXXX" (mkdtemp); `parent` "" means $TMPDIR, else
// /tmp. Returns its path.
absl::StatusOr<std::string> MakeTempDir(std::string_view prefix, std::string_view parent = "");

// $TMPDIR when set and not empty, else "/tmp".
std::string TempRoot();

// NOT_FOUND (or the errno's code) naming the path when the file cannot be read.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `contents` to "<path>.tmp" and renames it over `path`.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_FILES_H_
