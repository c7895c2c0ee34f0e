// File helpers for tests: damage a byte on disk to prove corruption is caught, list the files of
// a kind under a directory. Thread-compatible.
#ifndef SHUFFLE_TESTS_SUPPORT_FILES_H_
#define SHUFFLE_TESTS_SUPPORT_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace shuffle::testsupport {

// XORs the byte at `offset` of `path` with 0x5a. NOT_FOUND or OUT_OF_RANGE naming the file.
absl::Status FlipByte(const std::string& path, uint64_t offset);

// Every regular file named `name` under `dir` (recursively), in directory order.
std::vector<std::string> FindFiles(const std::string& dir, std::string_view name);

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_FILES_H_
