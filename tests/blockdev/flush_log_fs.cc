// flush_log_fs: a FUSE file system with one file, /disk, that records every write and every
// flush made to it: the dm-log-writes idea without device-mapper (this kernel has none). A loop
// device over /disk is a block device whose writes and REQ_OP_FLUSHes (the loop driver turns a
// flush into an fsync of its backing file, and FUA writes into a write and a flush) arrive here
// in order; blockdev_replay.py then rebuilds the device as it was at any flush.
//
//   flush_log_fs <image> <log> <mountpoint> [fuse options]
// <image> is the device's content (read and written in place); <log> receives, per write,
// 'W' u64 monotonic-ns u64 offset u32 length + the bytes, and per flush 'F' u64 monotonic-ns.
// Single-threaded (-s): requests are handled, and logged, in the order they arrive.
// Test-only.
#define FUSE_USE_VERSION 31
#include <fcntl.h>
#include <fuse.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {

int image_fd = -1;
FILE* log_file = nullptr;
off_t image_size = 0;

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void LogRecord(char kind, uint64_t offset, const char* data, uint32_t length) {
  const uint64_t now = NowNs();
  std::fwrite(&kind, 1, 1, log_file);
  std::fwrite(&now, sizeof(now), 1, log_file);
  if (kind == 'W') {
    std::fwrite(&offset, sizeof(offset), 1, log_file);
    std::fwrite(&length, sizeof(length), 1, log_file);
    std::fwrite(data, 1, length, log_file);
  }
}

int GetAttr(const char* path, struct stat* st, fuse_file_info*) {
  std::memset(st, 0, sizeof(*st));
  if (std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  if (std::strcmp(path, "/disk") == 0) {
    st->st_mode = S_IFREG | 0644;
    st->st_nlink = 1;
    st->st_size = image_size;
    return 0;
  }
  return -ENOENT;
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
            fuse_readdir_flags) {
  if (std::strcmp(path, "/") != 0) {
    return -ENOENT;
  }
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "disk", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  if (std::strcmp(path, "/disk") != 0) {
    return -ENOENT;
  }
  fi->direct_io = 1;  // no page cache in between: every write reaches us when it is made
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t offset, fuse_file_info*) {
  const ssize_t n = pread(image_fd, buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int Write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info*) {
  if (offset + static_cast<off_t>(size) > image_size) {
    return -ENOSPC;
  }
  LogRecord('W', static_cast<uint64_t>(offset), buf, static_cast<uint32_t>(size));
  const ssize_t n = pwrite(image_fd, buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int Fsync(const char*, int, fuse_file_info*) {
  LogRecord('F', 0, nullptr, 0);
  std::fflush(log_file);
  return 0;
}

int Flush(const char*, fuse_file_info*) { return 0; }  // close(2), not a durability point

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: flush_log_fs <image> <log> <mountpoint> [fuse options]\n");
    return 2;
  }
  image_fd = open(argv[1], O_RDWR | O_CLOEXEC);
  log_file = std::fopen(argv[2], "wb");
  struct stat st {};
  if (image_fd < 0 || log_file == nullptr || fstat(image_fd, &st) != 0) {
    std::perror("flush_log_fs: open");
    return 1;
  }
  image_size = st.st_size;
  fuse_operations ops{};
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.fsync = Fsync;
  ops.flush = Flush;
  std::vector<char*> args = {argv[0], argv[3], const_cast<char*>("-f"), const_cast<char*>("-s")};
  for (int i = 4; i < argc; ++i) {
    args.push_back(argv[i]);
  }
  const int ret = fuse_main(static_cast<int>(args.size()), args.data(), &ops, nullptr);
  std::fclose(log_file);
  close(image_fd);
  return ret;
}
