#include "tests/support/files.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace shuffle::testsupport {

absl::Status FlipByte(const std::string& path, uint64_t offset) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot damage ", path, ": ", ec.message()));
  }
  if (offset >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("cannot damage ", path, " at offset ", offset, ": it has ", size, " bytes"));
  }
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  f.flush();
  return f ? absl::OkStatus() : absl::DataLossError(absl::StrCat("cannot rewrite ", path));
}

std::vector<std::string> FindFiles(const std::string& dir, std::string_view name) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().filename() == name) {
      out.push_back(it->path().string());
    }
  }
  return out;
}

}  // namespace shuffle::testsupport
