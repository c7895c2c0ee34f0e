// The protocol the Spark plugin uses, against real shuffle-server processes: writers that make
// their own blocks and register the shuffle with their pushes (no control call), readers that
// know only which attempt of each map to read (a lookup per server, then a fetch of just those
// maps), the control client, and the record counter.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shuffle/client/control_client.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/client/shuffle_client_c.h"
#include "tests/support/program.h"
#include "tests/support/read_totals.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::client {
namespace {

using testsupport::ServerProcess;

constexpr uint32_t kPartitions = 5;
constexpr char kApp[] = "loc-app";

// The raw bytes of block b of map m in partition p: self-describing, so a reader can check them.
std::string BlockBytes(uint32_t m, uint32_t attempt, uint32_t p, uint32_t b) {
  std::string s = "map" + std::to_string(m) + "/a" + std::to_string(attempt) + "/p" +
                  std::to_string(p) + "/b" + std::to_string(b) + ";";
  while (s.size() < 700 + (m * 131 + p * 17 + b) % 900) {
    s += s.substr(0, 13);
  }
  return s;
}

// A C ABI target: shuffle `shuffle_id` of kApp on the server at `server` (kept by the caller).
shuffle_target CTarget(const std::string& server, uint32_t shuffle_id) {
  return shuffle_target{.server = server.c_str(),
                        .app_id = kApp,
                        .token = nullptr,
                        .shuffle_id = shuffle_id,
                        .num_partitions = kPartitions};
}

// The C ABI's defaults, registering shuffles on push, with the TLS run's CA (`tls`, from
// testsupport::WithRunTls, is kept by the caller).
shuffle_options COptions(const ClientOptions& tls) {
  shuffle_options options;
  shuffle_options_init(&options);
  options.register_shuffle_on_push = 1;
  options.tls_ca_file = tls.tls_ca_file.c_str();
  return options;
}

// Every block a C ABI reader delivers, then closes it; a failed call fails the test.
std::multiset<std::string> ReadAllBlocks(shuffle_reader* reader) {
  std::multiset<std::string> blocks;
  shuffle_error err{};
  for (;;) {
    const void* data = nullptr;
    size_t len = 0;
    int has = 0;
    if (shuffle_reader_next_block(reader, &data, &len, &has, &err) != 0) {
      ADD_FAILURE() << err.message;
      break;
    }
    if (has == 0) {
      break;
    }
    blocks.emplace(static_cast<const char*>(data), len);
  }
  shuffle_reader_close(reader);
  return blocks;
}

class LocationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      auto server = ServerProcess::Start(
          SHUFFLE_SERVER_BINARY, dir_.path() + "/n" + std::to_string(i), "n" + std::to_string(i));
      ASSERT_TRUE(server.ok()) << server.status();
      servers_.push_back(std::move(*server));
    }
  }
  void TearDown() override {
    servers_.clear();  // kills them; dir_ is removed after
  }

  static ShuffleHandle Handle() {
    return ShuffleHandle{
        .app_id = kApp, .token = "", .shuffle = core::ShuffleId(3), .num_partitions = kPartitions};
  }
  static ClientOptions Options(const std::string& server) {
    ClientOptions o = testsupport::WithRunTls({});
    o.server = server;
    o.register_shuffle_on_push = true;
    o.max_retries = 2;
    o.initial_backoff_ms = 20;
    return o;
  }

  // Writes map m as attempt `attempt` with 2 blocks per partition (none in partition 4 for odd
  // maps), a second copy on `replica` when set; returns the commit result.
  MapOutputWriter::CommitResult Write(int server, uint32_t m, uint32_t attempt,
                                      const std::string& replica = "") {
    ClientOptions options = Options(servers_[server]->data_address());
    options.replica_server = replica;
    auto writer =
        MapOutputWriter::Open(options, Handle(), core::MapId(m), core::AttemptId(attempt));
    EXPECT_TRUE(writer.ok()) << writer.status();
    for (uint32_t p = 0; p < kPartitions; ++p) {
      if (p == 4 && m % 2 == 1) {
        continue;
      }
      for (uint32_t b = 0; b < 2; ++b) {
        absl::Status st =
            (*writer)->WriteBlock(core::PartitionId(p), BlockBytes(m, attempt, p, b), 3);
        EXPECT_TRUE(st.ok()) << st;
      }
    }
    auto result = (*writer)->Commit();
    EXPECT_TRUE(result.ok()) << result.status();
    return *result;
  }

  // Reads [begin, end) of `maps` block by block; returns the blocks by content.
  absl::StatusOr<std::multiset<std::string>> Read(uint32_t begin, uint32_t end,
                                                  const std::vector<MapLocation>& maps,
                                                  std::string* failed_server = nullptr) {
    auto reader = PartitionReader::Open(Options(""), Handle(), core::PartitionId(begin),
                                        core::PartitionId(end), maps);
    if (!reader.ok()) {
      return reader.status();
    }
    absl::StatusOr<std::multiset<std::string>> blocks = testsupport::ReadBlocks(**reader);
    if (!blocks.ok() && failed_server != nullptr) {
      *failed_server = (*reader)->failed_server();
    }
    return blocks;
  }

  testsupport::TempDir dir_{"shuffle-loc-"};
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

TEST_F(LocationsTest, BlocksWrittenWithoutRegistrationReadBackByLocation) {
  // Maps 0-3 on server 0, 4-5 on server 1; the shuffle was never registered by a control call.
  std::vector<MapLocation> maps;
  for (uint32_t m = 0; m < 6; ++m) {
    const int server = m < 4 ? 0 : 1;
    MapOutputWriter::CommitResult result = Write(server, m, 100 + m);
    ASSERT_TRUE(result.won);
    EXPECT_EQ(result.status.address, servers_[server]->data_address());
    EXPECT_EQ(result.status.control_address, servers_[server]->control_address());
    maps.push_back(MapLocation{.address = result.status.address,
                               .map = core::MapId(m),
                               .attempt = core::AttemptId(100 + m)});
  }
  auto blocks = Read(2, 5, maps);
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  std::multiset<std::string> expected;
  for (uint32_t m = 0; m < 6; ++m) {
    for (uint32_t p = 2; p < 5; ++p) {
      if (p == 4 && m % 2 == 1) {
        continue;
      }
      expected.insert(BlockBytes(m, 100 + m, p, 0));
      expected.insert(BlockBytes(m, 100 + m, p, 1));
    }
  }
  EXPECT_EQ(*blocks, expected);
}

TEST_F(LocationsTest, OnlyTheNamedMapsAreFetched) {
  std::vector<MapLocation> all;
  for (uint32_t m = 0; m < 6; ++m) {
    Write(0, m, m);
    all.push_back(MapLocation{.address = servers_[0]->data_address(),
                              .map = core::MapId(m),
                              .attempt = core::AttemptId(m)});
  }
  // A skew split: maps 1 and 4 of partition 0 only.
  auto blocks = Read(0, 1, {all[1], all[4]});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_EQ(*blocks, (std::multiset<std::string>{BlockBytes(1, 1, 0, 0), BlockBytes(1, 1, 0, 1),
                                                 BlockBytes(4, 4, 0, 0), BlockBytes(4, 4, 0, 1)}));
}

TEST_F(LocationsTest, ASecondAttemptOfAMapLosesAndTheNamedAttemptIsServed) {
  MapOutputWriter::CommitResult first = Write(0, 7, 11);
  MapOutputWriter::CommitResult second = Write(0, 7, 12);  // a speculative copy, later
  EXPECT_TRUE(first.won);
  EXPECT_FALSE(second.won);
  EXPECT_EQ(second.status.attempt.value(), 11u);  // the status describes the winner
  EXPECT_EQ(second.status.partition_bytes, first.status.partition_bytes);
  auto blocks =
      Read(0, kPartitions,
           {MapLocation{servers_[0]->data_address(), core::MapId(7), core::AttemptId(11)}});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_EQ(blocks->size(), 2u * kPartitions - 2);  // map 7 is odd: nothing in partition 4
  EXPECT_EQ(blocks->count(BlockBytes(7, 11, 0, 0)), 1u);
  EXPECT_EQ(blocks->count(BlockBytes(7, 12, 0, 0)), 0u);
}

// replicas=2: every block is on both servers when the commit returns, so the output outlives
// its primary server.
TEST_F(LocationsTest, AReplicatedOutputIsReadFromTheReplicaOnceThePrimaryIsGone) {
  const std::string replica = servers_[1]->data_address();
  MapOutputWriter::CommitResult result = Write(0, 2, 21, replica);
  EXPECT_TRUE(result.won);
  EXPECT_EQ(result.status.address, servers_[0]->data_address());
  ASSERT_TRUE(result.replica.has_value());
  EXPECT_EQ(result.replica->address, replica);
  EXPECT_EQ(result.replica->attempt.value(), 21u);
  EXPECT_EQ(result.replica->partition_bytes, result.status.partition_bytes);
  EXPECT_EQ(result.replica->partition_blocks, result.status.partition_blocks);
  servers_[0].reset();  // SIGKILL: the primary and its node's disk are gone for the reader
  auto blocks = Read(0, kPartitions, {MapLocation{replica, core::MapId(2), core::AttemptId(21)}});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  std::multiset<std::string> expected;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    expected.insert(BlockBytes(2, 21, p, 0));
    expected.insert(BlockBytes(2, 21, p, 1));
  }
  EXPECT_EQ(*blocks, expected);
}

// A replica that is unreachable, or dies before the commit, fails the write: an output is never
// acknowledged with one copy when two were asked for.
TEST_F(LocationsTest, AWriteWhoseReplicaIsGoneIsNotAcknowledged) {
  ClientOptions options = Options(servers_[0]->data_address());
  options.replica_server = "127.0.0.1:1";  // nothing listens there
  EXPECT_THAT(MapOutputWriter::Open(options, Handle(), core::MapId(1), core::AttemptId(1))
                  .status()
                  .message(),
              ::testing::HasSubstr("the replica"));

  options.replica_server = servers_[1]->data_address();
  auto writer = MapOutputWriter::Open(options, Handle(), core::MapId(1), core::AttemptId(1));
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->WriteBlock(core::PartitionId(0), BlockBytes(1, 1, 0, 0), 3).ok());
  servers_[1].reset();
  absl::StatusOr<MapOutputWriter::CommitResult> commit = (*writer)->Commit();
  EXPECT_FALSE(commit.ok());
}

// The C ABI's replicated writer (shuffle_writer_open_replicated): the commit returns both places,
// the replica alone serves every block once the primary is gone, and a commit the replica could
// not make fails naming the replica.
TEST_F(LocationsTest, TheCAbiWritesASecondCopyAndNamesTheServerThatFailed) {
  const std::string primary = servers_[0]->data_address();
  const std::string replica = servers_[1]->data_address();
  const ClientOptions tls = testsupport::WithRunTls({});
  shuffle_options options = COptions(tls);
  options.max_retries = 2;
  options.initial_backoff_ms = 20;
  const shuffle_target target = CTarget(primary, 3);
  shuffle_error err{};
  shuffle_writer* writer = nullptr;
  ASSERT_EQ(
      shuffle_writer_open_replicated(&target, &options, replica.c_str(), 4, 44, &writer, &err), 0)
      << err.message;
  std::multiset<std::string> expected;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    const std::string block = BlockBytes(4, 44, p, 0);
    ASSERT_EQ(shuffle_writer_write_block(writer, p, block.data(), block.size(), 3, &err), 0)
        << err.message;
    expected.insert(block);
  }
  uint8_t* status = nullptr;
  size_t status_len = 0;
  uint8_t* replica_status = nullptr;
  size_t replica_status_len = 0;
  int won = 0;
  ASSERT_EQ(shuffle_writer_commit_replicated(writer, &status, &status_len, &won, &replica_status,
                                             &replica_status_len, &err),
            0)
      << err.message;
  shuffle_writer_close(writer);
  EXPECT_EQ(won, 1);
  ASSERT_NE(replica_status, nullptr);
  auto first = MapStatus::Parse(std::string_view(reinterpret_cast<char*>(status), status_len));
  auto second = MapStatus::Parse(
      std::string_view(reinterpret_cast<char*>(replica_status), replica_status_len));
  shuffle_free(status);
  shuffle_free(replica_status);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->address, primary);
  EXPECT_EQ(second->address, replica);
  EXPECT_EQ(second->attempt.value(), 44u);
  EXPECT_EQ(second->partition_bytes, first->partition_bytes);

  servers_[0].reset();  // the primary's node is gone
  const shuffle_map_location at_replica{.address = replica.c_str(), .map_id = 4, .attempt = 44};
  shuffle_reader* reader = nullptr;
  ASSERT_EQ(shuffle_reader_open_locations(&target, &options, 0, kPartitions, &at_replica, 1,
                                          &reader, &err),
            0)
      << err.message;
  EXPECT_EQ(ReadAllBlocks(reader), expected);

  // One copy when no replica is named: the commit says so with a null replica status.
  const shuffle_target on_replica = CTarget(replica, 3);
  ASSERT_EQ(shuffle_writer_open_replicated(&on_replica, &options, nullptr, 5, 1, &writer, &err), 0)
      << err.message;
  replica_status = reinterpret_cast<uint8_t*>(&won);  // must be reset to NULL
  replica_status_len = 1;
  ASSERT_EQ(shuffle_writer_commit_replicated(writer, &status, &status_len, &won, &replica_status,
                                             &replica_status_len, &err),
            0)
      << err.message;
  shuffle_free(status);
  shuffle_writer_close(writer);
  EXPECT_EQ(replica_status, nullptr);
  EXPECT_EQ(replica_status_len, 0u);

  // A replica that dies before the commit: the commit fails and the writer names it.
  auto restarted = ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/n2", "n2");
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  const std::string doomed = (*restarted)->data_address();
  ASSERT_EQ(
      shuffle_writer_open_replicated(&on_replica, &options, doomed.c_str(), 6, 1, &writer, &err), 0)
      << err.message;
  const std::string block = BlockBytes(6, 1, 0, 0);
  ASSERT_EQ(shuffle_writer_write_block(writer, 0, block.data(), block.size(), 3, &err), 0)
      << err.message;
  restarted->reset();
  EXPECT_NE(shuffle_writer_commit_replicated(writer, &status, &status_len, &won, &replica_status,
                                             &replica_status_len, &err),
            0);
  EXPECT_EQ(std::string(shuffle_writer_failed_server(writer)), doomed) << err.message;
  shuffle_writer_close(writer);
}

// The C ABI's codec option: LZ4 blocks are written smaller than their records and read back
// whole (the reader decodes whatever codec a block carries); a codec the library does not know
// fails the open with a message that names the ones it does.
TEST_F(LocationsTest, TheCAbiWritesLz4BlocksAndRefusesAnUnknownCodec) {
  const std::string address = servers_[0]->data_address();
  const ClientOptions tls = testsupport::WithRunTls({});
  shuffle_options options = COptions(tls);
  EXPECT_EQ(options.compression_codec, SHUFFLE_CODEC_ZSTD);
  options.compression_codec = SHUFFLE_CODEC_LZ4;
  const shuffle_target target = CTarget(address, 6);
  shuffle_error err{};
  shuffle_writer* writer = nullptr;
  ASSERT_EQ(shuffle_writer_open_with_options(&target, &options, 2, 1, &writer, &err), 0)
      << err.message;
  std::multiset<std::string> expected;
  uint64_t raw_bytes = 0;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    for (uint32_t b = 0; b < 3; ++b) {
      const std::string block = BlockBytes(2, 1, p, b);
      ASSERT_EQ(shuffle_writer_write_block(writer, p, block.data(), block.size(), 1, &err), 0)
          << err.message;
      expected.insert(block);
      raw_bytes += block.size();
    }
  }
  uint8_t* status = nullptr;
  size_t status_len = 0;
  int won = 0;
  ASSERT_EQ(shuffle_writer_commit(writer, &status, &status_len, &won, &err), 0) << err.message;
  EXPECT_LT(shuffle_writer_encoded_bytes(writer), raw_bytes / 2);
  shuffle_writer_close(writer);
  shuffle_free(status);

  const shuffle_map_location at{.address = address.c_str(), .map_id = 2, .attempt = 1};
  shuffle_reader* reader = nullptr;
  ASSERT_EQ(shuffle_reader_open_locations(&target, &options, 0, kPartitions, &at, 1, &reader, &err),
            0)
      << err.message;
  EXPECT_EQ(ReadAllBlocks(reader), expected);

  options.compression_codec = 9;
  EXPECT_NE(shuffle_writer_open_with_options(&target, &options, 3, 1, &writer, &err), 0);
  EXPECT_THAT(err.message, ::testing::HasSubstr("zstd or lz4"));
}

TEST_F(LocationsTest, AnAttemptTheServerDoesNotHoldFailsNamingTheServer) {
  Write(1, 2, 5);
  std::string failed;
  auto wrong =
      Read(0, 2, {MapLocation{servers_[1]->data_address(), core::MapId(2), core::AttemptId(6)}},
           &failed);
  EXPECT_TRUE(absl::IsNotFound(wrong.status())) << wrong.status();
  EXPECT_NE(wrong.status().message().find("attempt 6 of map 2"), std::string_view::npos)
      << wrong.status();
  EXPECT_EQ(failed, servers_[1]->data_address());
  // A map the other server never saw, of a shuffle it does not know: the same.
  auto missing =
      Read(0, 2, {MapLocation{servers_[0]->data_address(), core::MapId(2), core::AttemptId(5)}},
           &failed);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_EQ(failed, servers_[0]->data_address());
}

TEST_F(LocationsTest, AMapWithNoOutputCommitsOnAServerThatNeverSawTheShuffle) {
  auto writer = MapOutputWriter::Open(Options(servers_[1]->data_address()), Handle(),
                                      core::MapId(0), core::AttemptId(1));
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto result = (*writer)->Commit();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->won);
  EXPECT_EQ(result->status.total_bytes(), 0u);
  auto blocks =
      Read(0, kPartitions,
           {MapLocation{servers_[1]->data_address(), core::MapId(0), core::AttemptId(1)}});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_TRUE(blocks->empty());
}

TEST_F(LocationsTest, ControlClientSealsAndRemoves) {
  ControlClient control(servers_[0]->control_address(), ControlClient::kDefaultCallTimeout,
                        testsupport::WithRunTls({}));
  auto token = control.RegisterApplication(kApp, "default", "");
  ASSERT_TRUE(token.ok()) << token.status();
  Write(0, 1, 1);
  EXPECT_TRUE(control.SealShuffle(kApp, *token, core::ShuffleId(3)).ok());
  EXPECT_TRUE(control.Probe(std::chrono::seconds(2)).ok());
  auto freed = control.RemoveShuffle(kApp, *token, core::ShuffleId(3));
  ASSERT_TRUE(freed.ok()) << freed.status();
  EXPECT_GT(*freed, 0u);
  auto gone =
      Read(0, 1, {MapLocation{servers_[0]->data_address(), core::MapId(1), core::AttemptId(1)}});
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
  auto app = control.RemoveApplication(kApp, *token);
  EXPECT_TRUE(app.ok()) << app.status();
  ControlClient nobody("127.0.0.1:1", std::chrono::milliseconds(300));
  EXPECT_FALSE(nobody.RegisterApplication(kApp, "", "").ok());
}

TEST_F(LocationsTest, AWriterWaitsForItsServerToComeBack) {
  const std::string listen = "127.0.0.1:" + std::to_string(ServerProcess::FreePort());
  auto server =
      ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/restarting", "r", "", listen);
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Kill();
  ClientOptions options = Options(listen);
  options.writer_waits_for_server = true;
  options.max_retries = 40;  // up to 20 s: a server starts in a second or two, more under load
  options.initial_backoff_ms = 100;
  options.max_backoff_ms = 500;
  // The writer waits in a thread of its own; the server restarts from this thread (a child
  // forked from a thread that then ends would get its parent-death signal).
  absl::StatusOr<std::unique_ptr<MapOutputWriter>> writer = absl::UnknownError("not run");
  std::thread waiting([&] {
    writer = MapOutputWriter::Open(options, Handle(), core::MapId(0), core::AttemptId(1));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  server =
      ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/restarting", "r", "", listen);
  waiting.join();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->WriteBlock(core::PartitionId(1), "late but there", 1).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  // Without waiting, the same situation fails at once.
  (*server)->Kill();
  EXPECT_TRUE(absl::IsUnavailable(
      MapOutputWriter::Open(Options(listen), Handle(), core::MapId(1), core::AttemptId(1))
          .status()));
}

TEST_F(LocationsTest, TheCAbiWritesBlocksAndReadsThemByLocation) {
  std::vector<std::string> args = {SHUFFLE_C_BLOCKS_EXAMPLE_BINARY,
                                   servers_[0]->data_address(),
                                   servers_[0]->control_address(),
                                   "c-blocks",
                                   "6",
                                   "9"};
  if (testsupport::TlsRun()) {
    args.push_back(testsupport::RunCaFile());  // the _with_options calls, through TLS
  }
  absl::StatusOr<testsupport::ProgramResult> run =
      testsupport::RunProgram(args, dir_.path(), std::chrono::seconds(120));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->out << run->err;
}

}  // namespace
}  // namespace shuffle::client
