#include "tests/support/temp_dir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle/core/files.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/strings.h"

namespace shuffle::testsupport {
namespace {

std::string Flat(std::string_view prefix) {
  std::string flat(prefix);
  std::replace(flat.begin(), flat.end(), '/', '-');
  return flat;
}

}  // namespace

TempDir::TempDir(std::string_view prefix, std::string_view parent) {
  absl::StatusOr<std::string> made = core::MakeTempDir(Flat(prefix), parent);
  SHUFFLE_CHECK(made.ok()) << "cannot create a temporary directory: " << made.status().ToString();
  path_ = *std::move(made);
}

absl::StatusOr<TempDir> TempDir::Create(std::string_view prefix, std::string_view parent) {
  absl::StatusOr<std::string> made = core::MakeTempDir(Flat(prefix), parent);
  if (!made.ok()) {
    return made.status();
  }
  return TempDir(Made{*std::move(made)});
}

TempDir::~TempDir() { Remove(); }

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, "");
  }
  return *this;
}

std::string TempDir::Sub(std::string_view name) const {
  return absl::StrCat(path_, "/", core::ToAbsl(name));
}

std::string TempDir::Write(std::string_view name, std::string_view contents) const {
  std::string path = Sub(name);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.flush();
  SHUFFLE_CHECK(out.good()) << "cannot write " << path;
  return path;
}

void TempDir::Remove() {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    path_.clear();
  }
}

}  // namespace shuffle::testsupport
