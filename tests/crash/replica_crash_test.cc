// Crash suite for replicas=2 (docs/node-loss.md): map writers push every output to two real
// shuffle-server processes at once (the primary through its Unix socket, the replica over TCP),
// while the primary or the replica is SIGKILLed at random instants and restarted on the same
// directory and addresses. An output whose Commit() returned is acknowledged; at the end each
// acknowledged output must read back byte-exact from both servers, each copy as the attempt its
// server reported. A write that a kill interrupts fails and runs again as a new attempt, so the
// two servers may keep different attempts of one map: both are whole outputs of it.
//
// Kills: SHUFFLE_CRASH_ITERATIONS (default 12). Seed: SHUFFLE_CRASH_SEED (default: fixed),
// printed so a failure can be replayed.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "tests/support/read_totals.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace shuffle::client {
namespace {

using testsupport::ServerProcess;

constexpr uint32_t kPartitions = 4;
constexpr uint32_t kBlocksPerPartition = 3;
constexpr uint32_t kWriters = 3;
constexpr char kApp[] = "replica-crash";

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

// The raw bytes of block b of partition p of map m, attempt a: a pure function, so the verifier
// can recompute what each copy must hold.
std::string BlockBytes(uint32_t m, uint32_t a, uint32_t p, uint32_t b) {
  std::string s = "m" + std::to_string(m) + "/a" + std::to_string(a) + "/p" + std::to_string(p) +
                  "/b" + std::to_string(b) + ";";
  while (s.size() < 2000 + (m * 97 + p * 31 + b * 7) % 3000) {
    s += s.substr(0, 11);
  }
  return s;
}

ShuffleHandle Handle() {
  return ShuffleHandle{
      .app_id = kApp, .token = "", .shuffle = core::ShuffleId(1), .num_partitions = kPartitions};
}

struct Acknowledged {
  uint32_t map = 0;
  MapStatus primary;
  MapStatus replica;
};

// One node: a server that can be killed and started again on the same directory and addresses.
class Node {
 public:
  Node(std::string dir, std::string name, std::string socket)
      : dir_(std::move(dir)),
        name_(std::move(name)),
        socket_(std::move(socket)),
        listen_("127.0.0.1:" + std::to_string(ServerProcess::FreePort())) {}

  absl::Status Start() {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
        SHUFFLE_SERVER_BINARY, dir_, name_, socket_, listen_, {"--log-level=warning"});
    if (!server.ok()) {
      return server.status();
    }
    server_ = *std::move(server);
    return absl::OkStatus();
  }
  void Kill() { server_->Kill(); }
  // Where writers and readers reach it: the socket when it has one, else TCP.
  std::string address() const { return socket_.empty() ? listen_ : "unix:" + socket_; }

 private:
  const std::string dir_;
  const std::string name_;
  const std::string socket_;
  const std::string listen_;
  std::unique_ptr<ServerProcess> server_;
};

// The blocks of `location`'s map (all partitions), or the error of the read.
absl::StatusOr<std::multiset<std::string>> ReadMap(const MapLocation& location) {
  ClientOptions options;
  options.max_retries = 3;
  absl::StatusOr<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(
      options, Handle(), core::PartitionId(0), core::PartitionId(kPartitions), {location});
  if (!reader.ok()) {
    return reader.status();
  }
  return testsupport::ReadBlocks(**reader);
}

std::multiset<std::string> Expected(uint32_t map, uint32_t attempt) {
  std::multiset<std::string> blocks;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    for (uint32_t b = 0; b < kBlocksPerPartition; ++b) {
      blocks.insert(BlockBytes(map, attempt, p, b));
    }
  }
  return blocks;
}

TEST(ReplicaCrashTest, AcknowledgedOutputsSurviveSigkillOfThePrimaryOrTheReplica) {
  const uint64_t kills = EnvOr("SHUFFLE_CRASH_ITERATIONS", 12);
  const uint64_t seed = EnvOr("SHUFFLE_CRASH_SEED", 20261206);
  std::cout << "seed " << seed << ", " << kills << " kills\n";
  testsupport::TempDir dir("replica-crash-");
  Node primary(dir.Sub("n0"), "n0", dir.Sub("n0.sock"));
  Node replica(dir.Sub("n1"), "n1", "");
  ASSERT_TRUE(primary.Start().ok());
  ASSERT_TRUE(replica.Start().ok());

  std::mutex mu;
  std::vector<Acknowledged> acknowledged;
  std::atomic<uint32_t> next_map{0};
  std::atomic<uint32_t> next_attempt{1};
  std::atomic<uint64_t> failed_writes{0};
  std::atomic<bool> stop{false};
  // Each writer takes the next map and writes it until one attempt is acknowledged.
  auto writer = [&] {
    while (!stop) {
      const uint32_t m = next_map++;
      for (int tries = 0; tries < 50 && !stop; ++tries) {
        const uint32_t a = next_attempt++;
        ClientOptions options;
        options.server = primary.address();
        options.replica_server = replica.address();
        options.register_shuffle_on_push = true;
        options.writer_waits_for_server = true;  // ride out a restart before it starts
        options.max_retries = 30;
        options.initial_backoff_ms = 20;
        options.max_backoff_ms = 200;
        options.io_timeout_ms = 10000;
        absl::StatusOr<std::unique_ptr<MapOutputWriter>> w =
            MapOutputWriter::Open(options, Handle(), core::MapId(m), core::AttemptId(a));
        absl::Status st = w.status();
        for (uint32_t p = 0; p < kPartitions && st.ok(); ++p) {
          for (uint32_t b = 0; b < kBlocksPerPartition && st.ok(); ++b) {
            st = (*w)->WriteBlock(core::PartitionId(p), BlockBytes(m, a, p, b), 1);
          }
        }
        if (st.ok()) {
          absl::StatusOr<MapOutputWriter::CommitResult> commit = (*w)->Commit();
          if (commit.ok()) {
            EXPECT_TRUE(commit->replica.has_value());
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.push_back(Acknowledged{.map = m,
                                                .primary = commit->status,
                                                .replica = commit->replica.value_or(MapStatus{})});
            break;
          }
        }
        ++failed_writes;
      }
    }
  };
  std::vector<std::thread> writers;
  for (uint32_t i = 0; i < kWriters; ++i) {
    writers.emplace_back(writer);
  }
  std::mt19937_64 random(seed);
  uint64_t primary_kills = 0;
  for (uint64_t k = 0; k < kills && !HasFailure(); ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 250));
    const bool kill_primary = random() % 2 == 0;
    Node& victim = kill_primary ? primary : replica;
    primary_kills += kill_primary ? 1 : 0;
    victim.Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 100));
    ASSERT_TRUE(victim.Start().ok()) << "restart after kill " << k;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // writes after the last restart
  stop = true;
  for (std::thread& t : writers) {
    t.join();
  }
  std::cout << acknowledged.size() << " outputs acknowledged, " << failed_writes
            << " writes failed by the kills (" << primary_kills << " of the primary, "
            << kills - primary_kills << " of the replica)\n";
  ASSERT_GT(acknowledged.size(), 0u);

  // Every acknowledged output, on both servers, each copy as its server's attempt.
  for (const Acknowledged& ack : acknowledged) {
    for (const auto& [node, status] :
         {std::pair{&primary, ack.primary}, std::pair{&replica, ack.replica}}) {
      const MapLocation location{
          .address = node->address(), .map = core::MapId(ack.map), .attempt = status.attempt};
      absl::StatusOr<std::multiset<std::string>> blocks = ReadMap(location);
      ASSERT_TRUE(blocks.ok()) << "map " << ack.map << " attempt " << status.attempt.value()
                               << " at " << location.address << ": " << blocks.status() << " (seed "
                               << seed << ")";
      EXPECT_TRUE(*blocks == Expected(ack.map, status.attempt.value()))
          << "map " << ack.map << " at " << location.address << " (seed " << seed << ")";
    }
  }
}

}  // namespace
}  // namespace shuffle::client
