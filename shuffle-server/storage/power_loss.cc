#include "shuffle-server/storage/power_loss.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/errno_status.h"

namespace shuffle::storage {
namespace {

std::string Normalize(const std::string& path) {
  std::string out = std::filesystem::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

std::string Parent(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Reads up to `length` bytes at `offset` (fewer at end of file).
std::string ReadAt(int fd, uint64_t offset, uint64_t length) {
  std::string bytes(length, '\0');
  size_t got = 0;
  while (got < length) {
    const ssize_t n = pread(fd, bytes.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

absl::Status WriteAt(int fd, uint64_t offset, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return core::ErrnoToStatus(n < 0 ? errno : EIO, "pwrite (power-loss undo)",
                                 absl::StrCat("fd ", fd, " offset ", offset + done));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return core::ErrnoToStatus(ec.value(), "rm -rf", path);
  }
  return absl::OkStatus();
}

absl::Status RenamePath(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    return core::ErrnoToStatus(errno, "rename", absl::StrCat(from, " to ", to));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PowerLoss>> PowerLoss::Create(const std::string& root) {
  const std::string normal = Normalize(root);
  const std::string trash = normal + ".powerloss-trash";
  struct stat st {};
  if (stat(normal.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("power loss root ", root, " is not a directory"));
  }
  if (absl::Status st = RemoveTree(trash); !st.ok()) {
    return st;
  }
  std::error_code ec;
  std::filesystem::create_directories(trash, ec);
  if (ec) {
    return core::ErrnoToStatus(ec.value(), "mkdir -p", trash);
  }
  return std::unique_ptr<PowerLoss>(new PowerLoss(normal, trash));
}

PowerLoss::PowerLoss(std::string root, std::string trash)
    : root_(std::move(root)), trash_(std::move(trash)) {}

PowerLoss::~PowerLoss() {
  absl::MutexLock lock(&state_mu_);
  for (auto& [key, file] : files_) {
    close(file.fd);
  }
  (void)RemoveTree(trash_);
}

PowerLoss::Operation::Operation(PowerLoss* power) : power_(power) {
  if (power_ != nullptr) {
    power_->ops_mu_.ReaderLock();
  }
}

PowerLoss::Operation::~Operation() {
  if (power_ != nullptr) {
    power_->ops_mu_.ReaderUnlock();
  }
}

bool PowerLoss::Tracks(const std::string& path) const {
  const std::string normal = Normalize(path);
  return normal == root_ || absl::StartsWith(normal, root_ + "/");
}

PowerLoss::FileState* PowerLoss::StateOf(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return nullptr;
  }
  const InodeKey key{st.st_dev, st.st_ino};
  if (auto it = files_.find(key); it != files_.end()) {
    return &it->second;
  }
  char link[64];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  std::error_code ec;
  const std::filesystem::path target = std::filesystem::read_symlink(link, ec);
  if (ec || !Tracks(target.string())) {
    return nullptr;
  }
  // Our own descriptor of the same inode: it works after the file is renamed or removed.
  const int own = open(link, O_RDWR | O_CLOEXEC);
  if (own < 0) {
    return nullptr;
  }
  FileState& state = files_[key];
  state.fd = own;
  state.path = target.string();
  // First seen now: whatever it holds is from before (a previous run's durable state) or empty.
  state.durable_size = static_cast<uint64_t>(st.st_size);
  return &state;
}

void PowerLoss::WillWrite(int fd, uint64_t offset, uint64_t length) {
  absl::MutexLock lock(&state_mu_);
  FileState* state = StateOf(fd);
  if (state == nullptr || offset >= state->durable_size || length == 0) {
    return;
  }
  const uint64_t end = std::min(offset + length, state->durable_size);
  std::string old = ReadAt(state->fd, offset, end - offset);
  if (!old.empty()) {
    state->undo.push_back(Undo{offset, std::move(old)});
  }
}

void PowerLoss::WillTruncate(int fd, uint64_t size) {
  absl::MutexLock lock(&state_mu_);
  FileState* state = StateOf(fd);
  if (state == nullptr || size >= state->durable_size) {
    return;
  }
  std::string old = ReadAt(state->fd, size, state->durable_size - size);
  if (!old.empty()) {
    state->undo.push_back(Undo{size, std::move(old)});
  }
}

void PowerLoss::WillTruncatePath(const std::string& path) {
  if (!Tracks(path)) {
    return;
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;  // not there: nothing to keep
  }
  WillTruncate(fd, 0);
  close(fd);
}

void PowerLoss::Synced(int fd) {
  absl::MutexLock lock(&state_mu_);
  ++stats_.file_syncs;
  FileState* state = StateOf(fd);
  if (state == nullptr) {
    return;
  }
  struct stat st {};
  if (fstat(state->fd, &st) == 0) {
    state->durable_size = static_cast<uint64_t>(st.st_size);
    state->undo.clear();
  }
}

std::string PowerLoss::NextTrash() { return absl::StrCat(trash_, "/", next_trash_++); }

void PowerLoss::Created(const std::string& path) {
  if (!Tracks(path)) {
    return;
  }
  const std::string normal = Normalize(path);
  absl::MutexLock lock(&state_mu_);
  entries_.push_back(Entry{.op = EntryOp::kCreate,
                           .path = normal,
                           .from = {},
                           .trash = {},
                           .unsynced_dirs = {Parent(normal)}});
}

absl::Status PowerLoss::CreateDirs(const std::string& path) {
  const std::filesystem::path normal(Normalize(path));
  std::filesystem::path prefix;
  for (const auto& part : normal) {
    prefix /= part;
    const std::string p = prefix.string();
    if (p == "/" || Exists(p)) {
      continue;
    }
    if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
      return core::ErrnoToStatus(errno, "mkdir", p);
    }
    if (Tracks(p)) {
      absl::MutexLock lock(&state_mu_);
      entries_.push_back(Entry{
          .op = EntryOp::kMkdir, .path = p, .from = {}, .trash = {}, .unsynced_dirs = {Parent(p)}});
    }
  }
  return absl::OkStatus();
}

absl::Status PowerLoss::Remove(const std::string& path) {
  const std::string normal = Normalize(path);
  if (!Exists(normal)) {
    return absl::OkStatus();
  }
  if (!Tracks(normal)) {
    return RemoveTree(normal);
  }
  absl::MutexLock lock(&state_mu_);
  const std::string trash = NextTrash();
  if (absl::Status st = RenamePath(normal, trash); !st.ok()) {
    return st;
  }
  entries_.push_back(Entry{.op = EntryOp::kRemove,
                           .path = normal,
                           .from = {},
                           .trash = trash,
                           .unsynced_dirs = {Parent(normal)}});
  return absl::OkStatus();
}

absl::Status PowerLoss::Rename(const std::string& from, const std::string& to) {
  const std::string source = Normalize(from);
  const std::string target = Normalize(to);
  if (!Tracks(source) || !Tracks(target)) {
    return RenamePath(source, target);
  }
  absl::MutexLock lock(&state_mu_);
  std::string replaced;
  if (Exists(target) && Exists(source)) {
    replaced = NextTrash();
    if (absl::Status st = RenamePath(target, replaced); !st.ok()) {
      return st;
    }
  }
  if (absl::Status st = RenamePath(source, target); !st.ok()) {
    if (!replaced.empty()) {
      (void)RenamePath(replaced, target);
    }
    return st;
  }
  entries_.push_back(Entry{.op = EntryOp::kRename,
                           .path = target,
                           .from = source,
                           .trash = replaced,
                           .unsynced_dirs = {Parent(source), Parent(target)}});
  return absl::OkStatus();
}

void PowerLoss::DirSynced(const std::string& path) {
  const std::string dir = Normalize(path);
  absl::MutexLock lock(&state_mu_);
  ++stats_.dir_syncs;
  std::vector<Entry> pending;
  for (Entry& entry : entries_) {
    entry.unsynced_dirs.erase(dir);
    if (!entry.unsynced_dirs.empty()) {
      pending.push_back(std::move(entry));
    } else if (!entry.trash.empty()) {
      (void)RemoveTree(entry.trash);  // the removal (or the replacement) is final
    }
  }
  entries_ = std::move(pending);
}

absl::Status PowerLoss::Drop() {
  absl::Status first = RevertFiles();
  first.Update(UndoEntries());
  return first;
}

absl::Status PowerLoss::RevertFiles() {
  absl::Status first;
  auto keep = [&](absl::Status st) { first.Update(std::move(st)); };
  for (auto& [key, file] : files_) {
    bool reverted = !file.undo.empty();
    for (auto it = file.undo.rbegin(); it != file.undo.rend(); ++it) {
      keep(WriteAt(file.fd, it->offset, it->bytes));
    }
    struct stat st {};
    if (fstat(file.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) != file.durable_size) {
      if (static_cast<uint64_t>(st.st_size) > file.durable_size) {
        stats_.bytes_dropped += static_cast<uint64_t>(st.st_size) - file.durable_size;
      }
      if (ftruncate(file.fd, static_cast<off_t>(file.durable_size)) != 0) {
        keep(core::ErrnoToStatus(errno, "ftruncate (power-loss undo)", file.path));
      }
      reverted = true;
    }
    stats_.files_reverted += reverted ? 1 : 0;
    close(file.fd);
  }
  files_.clear();
  return first;
}

absl::Status PowerLoss::UndoEntries() {
  absl::Status first;
  auto keep = [&](absl::Status st) { first.Update(std::move(st)); };
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    ++stats_.entries_undone;
    switch (it->op) {
      case EntryOp::kCreate:
        if (unlink(it->path.c_str()) != 0 && errno != ENOENT) {
          keep(core::ErrnoToStatus(errno, "unlink (power-loss undo)", it->path));
        }
        break;
      case EntryOp::kMkdir:
        keep(RemoveTree(it->path));
        break;
      case EntryOp::kRemove:
        ++stats_.operations_undone;
        if (Exists(Parent(it->path))) {
          keep(RemoveTree(it->path));
          keep(RenamePath(it->trash, it->path));
        }
        break;
      case EntryOp::kRename:
        if (Exists(it->path) && Exists(Parent(it->from))) {
          keep(RenamePath(it->path, it->from));
        }
        if (!it->trash.empty()) {
          keep(RenamePath(it->trash, it->path));
        }
        break;
    }
  }
  entries_.clear();
  return first;
}

void PowerLoss::Cut() {
  ops_mu_.Lock();  // never released: nothing reaches the disk after the cut
  absl::MutexLock lock(&state_mu_);
  const absl::Status dropped = Drop();
  std::fprintf(stderr,
               "power cut: %llu files reverted, %llu bytes dropped, %llu directory entries "
               "undone%s%s\n",
               static_cast<unsigned long long>(stats_.files_reverted),
               static_cast<unsigned long long>(stats_.bytes_dropped),
               static_cast<unsigned long long>(stats_.entries_undone), dropped.ok() ? "" : ": ",
               dropped.ok() ? "" : std::string(dropped.message()).c_str());
  std::fflush(stderr);
  kill(getpid(), SIGKILL);
  for (;;) {
    pause();
  }
}

absl::Status PowerLoss::DropUnsynced() {
  absl::MutexLock ops(&ops_mu_);
  absl::MutexLock lock(&state_mu_);
  return Drop();
}

PowerLossStats PowerLoss::stats() const {
  absl::MutexLock lock(&state_mu_);
  return stats_;
}

}  // namespace shuffle::storage
