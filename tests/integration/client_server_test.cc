// The client library against real shuffle-server processes over loopback: many writers and
// readers at once across three servers, corruption on disk reported as that block's corruption,
// a reader that survives its server being killed and restarted mid-fetch, and the C ABI. In the
// TLS run (tests/support/tls_run.h) every TCP connection goes through TLS.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "tests/support/files.h"
#include "tests/support/program.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::client {
namespace {

using testsupport::ServerProcess;
using testsupport::WithRunTls;

constexpr uint32_t kPartitions = 8;
constexpr uint32_t kMaps = 24;
const char kApp[] = "it-app";

std::string Value(const std::string& key, size_t size) {
  std::string v;
  uint64_t x = std::hash<std::string>{}(key);
  while (v.size() < size) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    v.append(std::to_string(x >> 33));
  }
  v.resize(size);
  return v;
}

// The records of map `m`: keys "s:m:i", partition i % kPartitions, values of varying size.
struct MapPlan {
  uint32_t shuffle;
  uint32_t map;
  uint32_t records;
  std::string Key(uint32_t i) const {
    return std::to_string(shuffle) + ":" + std::to_string(map) + ":" + std::to_string(i);
  }
  static size_t ValueSize(uint32_t i) { return 10 + (i * 37) % 2000; }
};

class ClusterTest : public ::testing::Test {
 protected:
  void TearDown() override {
    servers_.clear();  // kills them; dir_ is removed after
  }
  void StartServers(int n) {
    for (int i = 0; i < n; ++i) {
      auto server =
          ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/node" + std::to_string(i),
                               "node-" + std::to_string(i));
      ASSERT_TRUE(server.ok()) << server.status();
      servers_.push_back(std::move(*server));
    }
  }
  ShuffleHandle Handle(uint32_t shuffle) const {
    return ShuffleHandle{.app_id = kApp,
                         .token = token_,
                         .shuffle = core::ShuffleId(shuffle),
                         .num_partitions = kPartitions};
  }
  ClientOptions Options(const std::string& server) const {
    ClientOptions o = WithRunTls({});
    o.server = server;
    o.block_bytes = 32 << 10;
    o.push_batch_bytes = 256 << 10;
    return o;
  }
  absl::StatusOr<MapStatus> WriteMap(const MapPlan& plan, const std::string& server) {
    auto writer = MapOutputWriter::Open(Options(server), Handle(plan.shuffle),
                                        core::MapId(plan.map), core::AttemptId(0));
    if (!writer.ok()) {
      return writer.status();
    }
    for (uint32_t i = 0; i < plan.records; ++i) {
      const std::string key = plan.Key(i);
      absl::Status st = (*writer)->Write(core::PartitionId(i % kPartitions), key,
                                         Value(key, MapPlan::ValueSize(i)));
      if (!st.ok()) {
        return st;
      }
    }
    auto result = (*writer)->Commit();
    if (!result.ok()) {
      return result.status();
    }
    return result->status;
  }
  // Reads partition p and checks every record against the plans; returns the record count.
  absl::StatusOr<uint64_t> ReadPartition(uint32_t shuffle, uint32_t p,
                                         const std::vector<MapStatus>& statuses,
                                         const std::vector<MapPlan>& plans,
                                         const ClientOptions& options = {}) {
    auto reader = PartitionReader::Open(WithRunTls(options), Handle(shuffle), core::PartitionId(p),
                                        core::PartitionId(p + 1), statuses);
    if (!reader.ok()) {
      return reader.status();
    }
    std::set<std::string> expected;
    for (const MapPlan& plan : plans) {
      for (uint32_t i = p; i < plan.records; i += kPartitions) {
        expected.insert(plan.Key(i));
      }
    }
    uint64_t count = 0;
    std::string_view key;
    std::string_view value;
    for (;;) {
      auto next = (*reader)->Next(&key, &value);
      if (!next.ok()) {
        return next.status();
      }
      if (!*next) {
        break;
      }
      const std::string k(key);
      if (expected.erase(k) != 1) {
        return absl::InternalError("unexpected or duplicate record " + k);
      }
      const uint32_t i = static_cast<uint32_t>(std::stoul(k.substr(k.rfind(':') + 1)));
      if (value != Value(k, MapPlan::ValueSize(i))) {
        return absl::InternalError("wrong value for " + k);
      }
      ++count;
    }
    if (!expected.empty()) {
      return absl::InternalError("missing " + std::to_string(expected.size()) + " records");
    }
    return count;
  }

  testsupport::TempDir dir_{"shuffle-it-"};
  std::string token_;  // presented by writers and readers
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

TEST_F(ClusterTest, ManyWritersAndReadersAtOnceAcrossThreeServers) {
  ASSERT_NO_FATAL_FAILURE(StartServers(3));
  for (auto& server : servers_) {
    ASSERT_TRUE(server->RegisterShuffle(kApp, 1, kPartitions).ok());
    ASSERT_TRUE(server->RegisterShuffle(kApp, 2, kPartitions).ok());
  }

  std::atomic<int> failures{0};
  // Starts 6 writer threads writing kMaps maps of `shuffle`, spread over the three servers.
  auto start_writers = [&](uint32_t shuffle, std::vector<MapStatus>* statuses,
                           std::vector<MapPlan>* plans) {
    statuses->resize(kMaps);
    for (uint32_t m = 0; m < kMaps; ++m) {
      plans->push_back(MapPlan{shuffle, m, 500 + m * 40});
    }
    std::vector<std::thread> writers;
    for (uint32_t t = 0; t < 6; ++t) {
      writers.emplace_back([this, &failures, statuses, plans, t] {
        for (uint32_t m = t; m < kMaps; m += 6) {
          auto status = WriteMap((*plans)[m], servers_[m % 3]->data_address());
          if (!status.ok()) {
            ADD_FAILURE() << status.status();
            ++failures;
            continue;
          }
          (*statuses)[m] = *status;
        }
      });
    }
    return writers;
  };
  std::vector<MapStatus> statuses1;
  std::vector<MapPlan> plans1;
  for (std::thread& t : start_writers(1, &statuses1, &plans1)) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  for (uint32_t m = 0; m < kMaps; ++m) {
    EXPECT_EQ(statuses1[m].node, "node-" + std::to_string(m % 3));
  }
  // Readers of shuffle 1 and writers of shuffle 2, at the same time.
  std::vector<MapStatus> statuses2;
  std::vector<MapPlan> plans2;
  plans2.reserve(kMaps);
  std::vector<std::thread> writers2 = start_writers(2, &statuses2, &plans2);
  std::vector<std::thread> readers;
  std::atomic<uint64_t> records{0};
  std::atomic<int> read_failures{0};
  for (uint32_t p = 0; p < kPartitions; ++p) {
    readers.emplace_back([&, p] {
      auto count = ReadPartition(1, p, statuses1, plans1);
      if (!count.ok()) {
        ADD_FAILURE() << "partition " << p << ": " << count.status();
        ++read_failures;
        return;
      }
      records += *count;
    });
  }
  for (auto& t : readers) {
    t.join();
  }
  for (auto& t : writers2) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(read_failures.load(), 0);
  uint64_t expected = 0;
  for (const MapPlan& plan : plans1) {
    expected += plan.records;
  }
  EXPECT_EQ(records.load(), expected);
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto count = ReadPartition(2, p, statuses2, plans2);
    ASSERT_TRUE(count.ok()) << count.status();
  }
}

TEST_F(ClusterTest, CorruptBytesOnDiskAreReportedAsThatBlock) {
  ASSERT_NO_FATAL_FAILURE(StartServers(1));
  ASSERT_TRUE(servers_[0]->RegisterShuffle(kApp, 1, kPartitions).ok());
  MapPlan plan{1, 0, 400};
  auto status = WriteMap(plan, servers_[0]->data_address());
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(servers_[0]->SealShuffle(kApp, 1).ok());  // everything into extents on disk
  // Flip one byte inside the first block's payload in every segment file.
  int corrupted = 0;
  for (const std::string& segment : testsupport::FindFiles(dir_.path(), "data.seg")) {
    if (std::filesystem::file_size(segment) > 200) {
      ASSERT_TRUE(testsupport::FlipByte(segment, 100).ok());
      ++corrupted;
    }
  }
  ASSERT_GT(corrupted, 0);
  absl::Status first_error;
  for (uint32_t p = 0; p < kPartitions && first_error.ok(); ++p) {
    first_error = ReadPartition(1, p, {*status}, {plan}).status();
  }
  ASSERT_EQ(first_error.code(), absl::StatusCode::kDataLoss) << first_error;
  EXPECT_NE(first_error.message().find("corrupt block: shuffle it-app/1 map 0 attempt 0 partition"),
            std::string::npos)
      << first_error;
  EXPECT_NE(first_error.message().find("from server " + servers_[0]->data_address()),
            std::string::npos)
      << first_error;
}

// A map whose first executor committed and then died is retried: the retry's pushes are refused
// (the map is committed), and its Commit() hands back the first attempt's status, not an error.
TEST_F(ClusterTest, ARetryOfACommittedMapGetsTheWinnersStatus) {
  ASSERT_NO_FATAL_FAILURE(StartServers(1));
  ASSERT_TRUE(servers_[0]->RegisterShuffle(kApp, 1, kPartitions).ok());
  MapPlan plan{1, 0, 2000};
  auto first = WriteMap(plan, servers_[0]->data_address());
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = MapOutputWriter::Open(Options(servers_[0]->data_address()), Handle(1),
                                     core::MapId(0), core::AttemptId(7));
  ASSERT_TRUE(retry.ok()) << retry.status();
  for (uint32_t i = 0; i < plan.records; ++i) {
    const std::string key = plan.Key(i);
    ASSERT_TRUE(
        (*retry)
            ->Write(core::PartitionId(i % kPartitions), key, Value(key, MapPlan::ValueSize(i)))
            .ok());
  }
  auto result = (*retry)->Commit();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->won);
  EXPECT_EQ(result->status.attempt, core::AttemptId(0));
  EXPECT_EQ(result->status.partition_bytes, first->partition_bytes);
  auto records = ReadPartition(1, 0, {result->status}, {plan});
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(*records, plan.records / kPartitions);
}

TEST_F(ClusterTest, ReaderSurvivesServerKilledAndRestartedMidFetch) {
  // The restarted server comes back on the same port, as a DaemonSet pod does.
  const std::string socket = dir_.path() + "/data.sock";
  const std::string listen = "127.0.0.1:" + std::to_string(ServerProcess::FreePort());
  auto server =
      ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/node", "node-0", socket, listen);
  ASSERT_TRUE(server.ok()) << server.status();
  servers_.push_back(std::move(*server));
  ASSERT_TRUE(servers_[0]->RegisterShuffle(kApp, 1, kPartitions).ok());
  MapPlan plan{1, 0, 40000};  // ~40 MB of values, 5 MB per partition
  auto status = WriteMap(plan, servers_[0]->data_address());
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(servers_[0]->SealShuffle(kApp, 1).ok());

  ClientOptions slow = WithRunTls({});
  slow.max_bytes_in_flight = 256 << 10;  // the fetch runs only as fast as we consume
  auto reader = PartitionReader::Open(slow, Handle(1), core::PartitionId(0),
                                      core::PartitionId(kPartitions), {*status});
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::set<std::string> seen;
  std::string_view key;
  std::string_view value;
  bool restarted = false;
  for (;;) {
    auto next = (*reader)->Next(&key, &value);
    ASSERT_TRUE(next.ok()) << next.status();
    if (!*next) {
      break;
    }
    ASSERT_TRUE(seen.insert(std::string(key)).second) << "duplicate " << key;
    if (!restarted && seen.size() == 5000) {
      servers_[0]->Kill();
      auto again = ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/node", "node-0",
                                        socket, listen);
      ASSERT_TRUE(again.ok()) << again.status();
      servers_[0] = std::move(*again);
      restarted = true;
    }
  }
  EXPECT_TRUE(restarted);
  EXPECT_EQ(seen.size(), plan.records);
  EXPECT_GE((*reader)->stats().retries, 1u);
}

TEST_F(ClusterTest, AuthenticatedClusterNeedsTokens) {
  const std::string secret = dir_.path() + "/token-secret";
  const std::string operator_secret = dir_.path() + "/operator-secret";
  std::ofstream(secret) << std::string(48, 'c') << "\n";
  std::ofstream(operator_secret) << "operator-pass\n";
  auto server = ServerProcess::Start(
      SHUFFLE_SERVER_BINARY, dir_.path() + "/node", "node-0", "", "127.0.0.1:0",
      {"--secret-file=" + secret, "--registration-secret-file=" + operator_secret});
  ASSERT_TRUE(server.ok()) << server.status();
  servers_.push_back(std::move(*server));
  ServerProcess& s = *servers_[0];
  EXPECT_EQ(s.RegisterApplication(kApp, "team-a", "wrong").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.RegisterApplication(kApp, "team-a", "").status().code(),
            absl::StatusCode::kUnauthenticated);
  auto token = s.RegisterApplication(kApp, "team-a", "operator-pass");
  ASSERT_TRUE(token.ok()) << token.status();
  ASSERT_FALSE(token->empty());
  EXPECT_EQ(s.RegisterShuffle(kApp, "forged", 1, kPartitions).code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(s.RegisterShuffle(kApp, *token, 1, kPartitions).ok());

  // Without the token the data plane refuses; with it, everything works.
  MapPlan plan{1, 0, 300};
  auto refused = WriteMap(plan, s.data_address());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  token_ = *token;
  auto status = WriteMap(plan, s.data_address());
  ASSERT_TRUE(status.ok()) << status.status();
  auto count = ReadPartition(1, 0, {*status}, {plan});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_GT(*count, 0u);
  // Another application's token cannot read this application's data.
  auto other = s.RegisterApplication("other-app", "team-b", "operator-pass");
  ASSERT_TRUE(other.ok());
  token_ = *other;
  EXPECT_EQ(ReadPartition(1, 0, {*status}, {plan}).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ClusterTest, SigtermDuringConcurrentCommitsLosesNothingAcknowledged) {
  const std::string listen = "127.0.0.1:" + std::to_string(ServerProcess::FreePort());
  auto server =
      ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/node", "node-0", "", listen);
  ASSERT_TRUE(server.ok()) << server.status();
  servers_.push_back(std::move(*server));
  ASSERT_TRUE(servers_[0]->RegisterShuffle(kApp, 1, kPartitions).ok());
  const std::string address = servers_[0]->data_address();
  // Four writers commit maps until the server goes away; each records what was acknowledged.
  std::mutex mu;
  std::vector<MapStatus> acknowledged;
  std::vector<MapPlan> plans;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (uint32_t t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (uint32_t k = 0; k < 200 && !stop; ++k) {
        const MapPlan plan{1, t * 1000 + k, 300};
        auto status = WriteMap(plan, address);
        if (!status.ok()) {
          return;  // the server is shutting down: this commit was not acknowledged
        }
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(*status);
        plans.push_back(plan);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(servers_[0]->Terminate(20000).ok());  // SIGTERM, clean exit
  stop = true;
  for (auto& w : writers) {
    w.join();
  }
  ASSERT_FALSE(acknowledged.empty());
  // Restart: every acknowledged map is served whole.
  auto again =
      ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/node", "node-0", "", listen);
  ASSERT_TRUE(again.ok()) << again.status();
  servers_[0] = std::move(*again);
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto count = ReadPartition(1, p, acknowledged, plans);
    ASSERT_TRUE(count.ok()) << "partition " << p << ": " << count.status();
  }
  std::printf("SIGTERM after %zu of 800 maps were acknowledged; all served after restart\n",
              acknowledged.size());
  EXPECT_LT(acknowledged.size(), 800u) << "SIGTERM came after every commit: nothing was tested";
}

TEST_F(ClusterTest, CExampleWritesAndReadsThroughTheCAbi) {
  ASSERT_NO_FATAL_FAILURE(StartServers(1));
  ASSERT_TRUE(servers_[0]->RegisterShuffle("c-app", 4, 3).ok());
  std::vector<std::string> args = {
      SHUFFLE_C_EXAMPLE_BINARY, servers_[0]->data_address(), "c-app", "4", "3", "20000"};
  if (testsupport::TlsRun()) {
    args.push_back(testsupport::RunCaFile());
  }
  absl::StatusOr<testsupport::ProgramResult> run =
      testsupport::RunProgram(args, dir_.path(), std::chrono::seconds(120));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->out << run->err;
}

}  // namespace
}  // namespace shuffle::client
