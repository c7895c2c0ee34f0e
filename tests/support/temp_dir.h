// TempDir: a fresh directory under $TMPDIR (default /tmp), removed with everything in it when the
// object dies, whatever the test did. The one temporary directory of the tests and benchmarks.
// Movable; not thread-safe (one owner).
#ifndef SHUFFLE_TESTS_SUPPORT_TEMP_DIR_H_
#define SHUFFLE_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shuffle::testsupport {

class TempDir {
 public:
  // Makes "<parent>/<prefix>XXXXXX" (`parent` "": $TMPDIR, else /tmp; '/' in the prefix, such as
  // a parameterized test's name, becomes '-'), so a leftover directory says what made it. Aborts,
  // saying why, if it cannot: no test can go on without its directory.
  explicit TempDir(std::string_view prefix = "shuffle-test-", std::string_view parent = "");
  // The same, as a status (for callers that report instead of aborting, such as benchmarks).
  static absl::StatusOr<TempDir> Create(std::string_view prefix, std::string_view parent = "");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // "<path>/<name>".
  std::string Sub(std::string_view name) const;
  // Writes `contents` to Sub(name), creating the directories on the way; its path. Aborts if it
  // cannot.
  std::string Write(std::string_view name, std::string_view contents) const;

 private:
  struct Made {
    std::string path;
  };
  explicit TempDir(Made made) : path_(std::move(made.path)) {}
  void Remove();
  std::string path_;  // empty once moved from
};

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_TEMP_DIR_H_
