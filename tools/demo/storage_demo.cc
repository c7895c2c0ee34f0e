// storage_demo: the interim main job (until the driver lands). It runs a map stage against the
// storage engine in a child process ("the server"), kills that process with SIGKILL part-way,
// restarts the engine, re-runs only the maps whose commits were not acknowledged, then runs the
// reduce stage: every partition is read back, every block verified and every record checked
// against the deterministic input. It prints progress and a final report.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>

#include "shuffle-server/storage/engine.h"
#include "shuffle/core/block.h"
#include "shuffle/core/compression.h"
#include "shuffle/core/logging.h"

namespace {

using shuffle::core::AppId;
using shuffle::core::AttemptId;
using shuffle::core::MapId;
using shuffle::core::PartitionId;
using shuffle::core::ShuffleId;
using shuffle::storage::CommitRequest;
using shuffle::storage::EngineOptions;
using shuffle::storage::PushedBlock;
using shuffle::storage::ShuffleKey;
using shuffle::storage::StorageEngine;

struct Config {
  std::string data_dir;
  uint32_t maps = 64;
  uint32_t partitions = 16;
  uint32_t block_kib = 64;
  uint32_t mib_per_map = 4;
  uint32_t threads = 2;
  double kill_fraction = 0.5;  // kill the server after this fraction of maps committed
};

const ShuffleKey kKey{AppId("demo-app"), ShuffleId(1)};

void Usage() {
  std::printf(
      "usage: storage_demo [--data-dir DIR] [--maps N] [--partitions N] [--block-kib N]\n"
      "                    [--mib-per-map N] [--threads N] [--kill-fraction F]\n"
      "Runs a map stage on the storage engine, SIGKILLs the server process part-way, restarts\n"
      "it, re-runs only unacknowledged maps, then reads and validates every partition.\n");
}

bool ParseArgs(int argc, char** argv, Config* c) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "-h" || arg == "--help") {
      Usage();
      std::exit(0);
    } else if ((arg == "--data-dir") && (v = next())) {
      c->data_dir = v;
    } else if (arg == "--maps" && (v = next())) {
      c->maps = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--partitions" && (v = next())) {
      c->partitions = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--block-kib" && (v = next())) {
      c->block_kib = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--mib-per-map" && (v = next())) {
      c->mib_per_map = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--threads" && (v = next())) {
      c->threads = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--kill-fraction" && (v = next())) {
      c->kill_fraction = std::atof(v);
    } else {
      std::fprintf(stderr, "storage_demo: bad argument '%s'\n", arg.c_str());
      Usage();
      return false;
    }
  }
  if (c->maps == 0 || c->partitions == 0 || c->block_kib == 0 || c->threads == 0) {
    std::fprintf(stderr,
                 "storage_demo: --maps, --partitions, --block-kib, --threads must be > 0\n");
    return false;
  }
  return true;
}

// Records of map m, partition p, block b: "m:p:b:i\n" lines, deterministic and checkable.
std::string BlockRecords(uint32_t map, uint32_t partition, uint32_t block, size_t bytes,
                         uint32_t* count) {
  std::string s;
  *count = 0;
  while (s.size() < bytes) {
    s += std::to_string(map) + ":" + std::to_string(partition) + ":" + std::to_string(block) + ":" +
         std::to_string((*count)++) + "\n";
  }
  return s;
}

EngineOptions Options(const Config& c) {
  EngineOptions o;
  o.data_dirs = {c.data_dir + "/disk0"};
  o.min_free_bytes = 64u << 20;
  return o;
}

uint32_t BlocksPerPartition(const Config& c) {
  const uint64_t per_partition = (uint64_t{c.mib_per_map} << 20) / c.partitions;
  return static_cast<uint32_t>(
      std::max<uint64_t>(1, per_partition / (uint64_t{c.block_kib} << 10)));
}

// Writes and commits one map; returns false on error (printed).
bool RunMap(StorageEngine& engine, const Config& c, uint32_t map, uint32_t attempt,
            shuffle::core::Compressor* compressor) {
  const uint32_t blocks = BlocksPerPartition(c);
  uint64_t pushed_blocks = 0;
  uint64_t pushed_bytes = 0;
  for (uint32_t p = 0; p < c.partitions; ++p) {
    std::vector<std::string> encoded(blocks);
    std::vector<PushedBlock> batch;
    for (uint32_t b = 0; b < blocks; ++b) {
      uint32_t records = 0;
      std::string raw = BlockRecords(map, p, b, size_t{c.block_kib} << 10, &records);
      if (!shuffle::core::EncodeBlock(raw, records, compressor, &encoded[b]).ok()) {
        return false;
      }
      pushed_bytes += encoded[b].size();
      batch.push_back({PartitionId(p), encoded[b]});
    }
    pushed_blocks += blocks;
    absl::Status st = engine.Push(kKey, MapId(map), AttemptId(attempt), batch);
    if (!st.ok()) {
      std::fprintf(stderr, "push failed: %s\n", std::string(st.message()).c_str());
      return false;
    }
  }
  auto result = engine.Commit(kKey, CommitRequest{.map = MapId(map),
                                                  .attempt = AttemptId(attempt),
                                                  .num_partitions = c.partitions,
                                                  .expected_blocks = pushed_blocks,
                                                  .expected_bytes = pushed_bytes});
  if (!result.ok()) {
    std::fprintf(stderr, "commit failed: %s\n", std::string(result.status().message()).c_str());
    return false;
  }
  return true;
}

// The map stage over `maps`, on `threads` threads; reports each acknowledged map on `ack_fd`.
void MapStage(StorageEngine& engine, const Config& c, const std::vector<uint32_t>& maps,
              uint32_t attempt, int ack_fd) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < c.threads; ++t) {
    threads.emplace_back([&] {
      auto compressor = shuffle::core::Compressor::Create(1);
      for (size_t i = next++; i < maps.size(); i = next++) {
        if (RunMap(engine, c, maps[i], attempt, compressor->get())) {
          std::string line = std::to_string(maps[i]) + "\n";
          ssize_t n = write(ack_fd, line.data(), line.size());
          (void)n;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  if (!ParseArgs(argc, argv, &c)) {
    return 2;
  }
  bool own_dir = false;
  if (c.data_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "shuffle-demo-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    c.data_dir = pattern;
    own_dir = true;
  }
  shuffle::core::SetLogLevel(shuffle::core::LogLevel::kWarning);
  const uint64_t total_bytes =
      uint64_t{c.maps} * c.partitions * BlocksPerPartition(c) * (uint64_t{c.block_kib} << 10);
  std::printf("storage demo: %u maps x %u partitions, %.1f MiB of records, data in %s\n", c.maps,
              c.partitions, total_bytes / 1048576.0, c.data_dir.c_str());

  // Stage 1, first server run: killed with SIGKILL once enough maps are acknowledged.
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("pipe");
    return 1;
  }
  const auto map_start = std::chrono::steady_clock::now();
  std::vector<uint32_t> all_maps(c.maps);
  for (uint32_t m = 0; m < c.maps; ++m) {
    all_maps[m] = m;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto engine = StorageEngine::Open(Options(c));
    if (!engine.ok() || !(*engine)->RegisterShuffle(kKey, "default", c.partitions).ok()) {
      _exit(3);
    }
    MapStage(**engine, c, all_maps, /*attempt=*/0, fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::set<uint32_t> acked;
  const auto kill_after = static_cast<size_t>(c.maps * c.kill_fraction);
  std::string pending;
  char buf[256];
  bool killed = false;
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) {
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      acked.insert(static_cast<uint32_t>(std::stoul(pending.substr(0, nl))));
    }
    std::printf("\r  map stage: %zu/%u maps committed", acked.size(), c.maps);
    std::fflush(stdout);
    if (!killed && acked.size() >= kill_after && kill_after < c.maps) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("\n  server process %s after %zu acknowledged commits\n",
              killed ? "killed with SIGKILL" : "finished", acked.size());

  // Restart: recovery, then re-run only the maps whose commits were not acknowledged.
  auto engine = StorageEngine::Open(Options(c));
  if (!engine.ok()) {
    std::fprintf(stderr, "restart failed: %s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  const auto& report = (*engine)->recovery_report();
  std::printf("  restarted in %.3f s: %llu commits recovered, %llu bytes of torn tail cut\n",
              report.seconds, static_cast<unsigned long long>(report.commits),
              static_cast<unsigned long long>(report.bytes_truncated));
  if (!(*engine)->RegisterShuffle(kKey, "default", c.partitions).ok()) {
    return 1;
  }
  std::vector<uint32_t> rerun;
  for (uint32_t m = 0; m < c.maps; ++m) {
    if (!acked.count(m)) {
      rerun.push_back(m);
    }
  }
  if (pipe(fds) != 0) {
    return 1;
  }
  MapStage(**engine, c, rerun, /*attempt=*/1, fds[1]);
  close(fds[1]);
  close(fds[0]);
  const double map_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - map_start).count();
  std::printf("  re-ran %zu unacknowledged maps (attempt 1); %zu acknowledged maps kept\n",
              rerun.size(), acked.size());
  if (!(*engine)->Seal(kKey).ok()) {
    return 1;
  }

  // Stage 2: reduce. Read every partition, verify every block and record.
  const auto reduce_start = std::chrono::steady_clock::now();
  auto decompressor = shuffle::core::Decompressor::Create();
  uint64_t records = 0;
  uint64_t bytes_read = 0;
  uint64_t bad = 0;
  std::set<std::pair<uint32_t, uint32_t>> map_attempts;
  const uint32_t blocks_per_partition = BlocksPerPartition(c);
  for (uint32_t p = 0; p < c.partitions; ++p) {
    auto blocks = (*engine)->Read(
        kKey, {.partition_begin = PartitionId(p), .partition_end = PartitionId(p + 1)});
    if (!blocks.ok()) {
      std::fprintf(stderr, "read failed: %s\n", std::string(blocks.status().message()).c_str());
      return 1;
    }
    std::vector<uint32_t> per_map(c.maps, 0);
    for (const auto& block : *blocks) {
      std::string raw;
      bytes_read += block.bytes.size();
      map_attempts.insert({block.origin.map, block.origin.attempt});
      const uint32_t b = per_map[block.origin.map]++;
      uint32_t count = 0;
      if (!shuffle::core::DecodeBlock(block.bytes, decompressor->get(), &raw).ok() ||
          raw != BlockRecords(block.origin.map, p, b, size_t{c.block_kib} << 10, &count)) {
        ++bad;
        continue;
      }
      records += count;
    }
    for (uint32_t m = 0; m < c.maps; ++m) {
      bad += per_map[m] != blocks_per_partition;
    }
    std::printf("\r  reduce stage: %u/%u partitions validated", p + 1, c.partitions);
    std::fflush(stdout);
  }
  const double reduce_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
  const bool ok = bad == 0 && map_attempts.size() == c.maps;
  std::printf("\n\nreport\n");
  std::printf("  map outputs served          %zu of %u (one attempt each)\n", map_attempts.size(),
              c.maps);
  std::printf("  map commits acknowledged    %zu before the crash + %zu after the restart\n",
              acked.size(), rerun.size());
  std::printf("  maps re-run                 %zu (only those whose commit was not acknowledged)\n",
              rerun.size());
  std::printf("  records validated           %llu\n", static_cast<unsigned long long>(records));
  std::printf("  map stage                   %.2f s, %.1f MiB/s of records pushed durably\n",
              map_seconds, total_bytes / 1048576.0 / map_seconds);
  std::printf(
      "  reduce stage                %.2f s: %.1f MiB of compressed blocks read, verified,\n"
      "                              decompressed and checked (%.1f MiB/s of records)\n",
      reduce_seconds, bytes_read / 1048576.0, total_bytes / 1048576.0 / reduce_seconds);
  std::printf("  output                      %s\n", ok ? "VALID" : "INVALID");
  engine->reset();
  if (own_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(c.data_dir, ignored);
  }
  return ok ? 0 : 1;
}
