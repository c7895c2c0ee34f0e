// The Server class in process: what it announces, the order it stops in (the storage engine stops
// taking writes before any listener drains; listeners drain in start order and stop in reverse;
// the engine closes last), that a failed start leaves nothing running, and that committed output
// survives a stop and a restart on the same directories. In the TLS run (tests/support/tls_run.h)
// the server's TCP planes are encrypted and every call here goes through TLS.
#include "shuffle-server/server.h"

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "core/tls/grpc_credentials.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/core/files.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/support/http.h"
#include "tests/support/read_totals.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ServerOptions Options(const testsupport::TempDir& dir) {
  ServerOptions o;
  o.data_dirs = {dir.Sub("data")};
  o.listen = "127.0.0.1:0";
  o.socket_path = dir.Sub("data.sock");
  o.control_listen = "127.0.0.1:0";
  o.metrics_listen = "127.0.0.1:0";
  o.node_name = "in-process";
  o.ready_file = dir.Sub("ready");
  o.memory_budget_mib = 16;
  o.min_free_mib = 0;
  o.drain_timeout_seconds = 10;
  o.tls_cert_file = testsupport::RunServerTls().cert_file;
  o.tls_key_file = testsupport::RunServerTls().key_file;
  return o;
}

std::shared_ptr<grpc::Channel> ControlChannel(const std::string& control) {
  return *tls::NewGrpcChannel(control, testsupport::RunClientTls());
}

std::shared_ptr<grpc::Channel> Channel(const Server& server) {
  return ControlChannel(server.addresses().Find(core::ReadyFile::kControl)->ToString());
}

std::string Health(const std::string& control) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status st = grpc::health::v1::Health::NewStub(ControlChannel(control))
                        ->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  return st.ok() ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
                 : "unreachable: " + st.error_message();
}

// True when a new engine can open the directories: the server's engine is closed.
bool EngineClosed(const ServerOptions& options) {
  absl::StatusOr<std::unique_ptr<storage::StorageEngine>> engine =
      storage::StorageEngine::Open(ToEngineOptions(options));
  return engine.ok();
}

TEST(ServerTest, AnnouncesEveryBoundAddressAndRemovesTheReadyFileOnStop) {
  testsupport::TempDir dir("server-test-");
  const ServerOptions options = Options(dir);
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const core::ReadyFile& addresses = (*server)->addresses();
  for (std::string_view key :
       {core::ReadyFile::kData, core::ReadyFile::kControl, core::ReadyFile::kMetrics}) {
    ASSERT_TRUE(addresses.Find(key).has_value()) << key;
    EXPECT_EQ(addresses.Find(key)->host(), "127.0.0.1") << key;
    EXPECT_NE(addresses.Find(key)->port(), 0) << key;
  }
  EXPECT_EQ(addresses.Find(core::ReadyFile::kSocket)->ToString(), "unix:" + options.socket_path);
  absl::StatusOr<core::ReadyFile> file = core::ReadyFile::Read(options.ready_file);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Format(), addresses.Format());

  EXPECT_EQ(*testsupport::HttpGetOk(*addresses.Find(core::ReadyFile::kMetrics), "/healthz",
                                    testsupport::RunCaFile()),
            "ok\n");
  EXPECT_EQ(Health(addresses.Find(core::ReadyFile::kControl)->ToString()), "SERVING");
  proto::GetStatusResponse status;
  grpc::ClientContext context;
  ASSERT_TRUE(proto::ShuffleControl::NewStub(Channel(**server))
                  ->GetStatus(&context, proto::GetStatusRequest(), &status)
                  .ok());
  EXPECT_EQ(status.node(), "in-process");

  (*server)->Stop();
  EXPECT_FALSE(std::filesystem::exists(options.ready_file));
  EXPECT_FALSE(std::filesystem::exists(options.socket_path));
  EXPECT_TRUE(EngineClosed(options));
  (*server)->Stop();  // idempotent
}

TEST(ServerTest, TheSparkListenerIsAnnouncedAndMeasuredWhenConfigured) {
  testsupport::TempDir dir("server-test-");
  ServerOptions options = Options(dir);
  {
    absl::StatusOr<std::unique_ptr<Server>> off = Server::Start(options);
    ASSERT_TRUE(off.ok()) << off.status();
    EXPECT_FALSE((*off)->addresses().Find(core::ReadyFile::kSpark).has_value());
  }
  std::filesystem::create_directories(dir.Sub("spark-local"));
  options.spark_local_dirs_root = dir.Sub("spark-local");
  options.spark_listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::optional<core::Endpoint> spark = (*server)->addresses().Find(core::ReadyFile::kSpark);
  ASSERT_TRUE(spark.has_value());
  EXPECT_EQ(spark->host(), "127.0.0.1");
  EXPECT_NE(spark->port(), 0);
  EXPECT_THAT(*core::ReadFileToString(options.ready_file),
              HasSubstr("spark=127.0.0.1:" + std::to_string(spark->port()) + "\n"));
  EXPECT_THAT(*testsupport::HttpGetOk(*(*server)->addresses().Find(core::ReadyFile::kMetrics),
                                      "/metrics", testsupport::RunCaFile()),
              HasSubstr("shuffle_spark_connections_open 0\n"));
}

// A listener that records when it is drained and stopped, and what it saw then.
struct Journal {
  std::mutex mu;
  std::vector<std::string> events;
  std::string control;  // the control plane's address, set once the server runs
  void Add(std::string event) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(std::move(event));
  }
};

class RecordingListener final : public Listener {
 public:
  RecordingListener(std::string name, Journal* journal, storage::StorageEngine* engine)
      : name_(std::move(name)), journal_(journal), engine_(engine) {}
  void Announce(core::ReadyFile* ready) const override {
    ready->Set(name_, core::Endpoint::Tcp("127.0.0.1", 1));
  }
  absl::Status Drain(absl::Time /*deadline*/) override {
    // The engine refuses writes and health says NOT_SERVING before any listener drains; the
    // control plane still answers.
    journal_->Add(absl::StrCat(name_, " drain: engine ",
                               engine_->draining() ? "draining" : "taking writes", ", health ",
                               Health(journal_->control)));
    return absl::OkStatus();
  }
  void Stop() override {
    // The engine is still open while listeners stop.
    journal_->Add(absl::StrCat(name_, " stop: engine ", engine_->draining() ? "open" : "?"));
  }

 private:
  std::string name_;
  Journal* journal_;
  storage::StorageEngine* engine_;
};

ListenerFactory Recording(const std::string& name, Journal* journal) {
  return
      [name, journal](const ListenerContext& context) -> absl::StatusOr<std::unique_ptr<Listener>> {
        return std::make_unique<RecordingListener>(name, journal, context.engine);
      };
}

TEST(ServerTest, StopDrainsTheEngineThenListenersInOrderAndClosesTheEngineLast) {
  testsupport::TempDir dir("server-test-");
  const ServerOptions options = Options(dir);
  Journal journal;
  std::vector<ListenerFactory> listeners = StandardListeners();
  listeners.push_back(Recording("first", &journal));
  listeners.push_back(Recording("second", &journal));
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, listeners);
  ASSERT_TRUE(server.ok()) << server.status();
  journal.control = (*server)->addresses().Find(core::ReadyFile::kControl)->ToString();
  // Every listener's addresses reach the ready file; readers skip keys they do not know.
  EXPECT_THAT(*core::ReadFileToString(options.ready_file), HasSubstr("first=127.0.0.1:1\n"));
  EXPECT_TRUE(core::ReadyFile::Read(options.ready_file).ok());
  EXPECT_FALSE(EngineClosed(options));

  (*server)->Stop();
  EXPECT_THAT(journal.events, ElementsAre("first drain: engine draining, health NOT_SERVING",
                                          "second drain: engine draining, health NOT_SERVING",
                                          "second stop: engine open", "first stop: engine open"));
  EXPECT_TRUE(EngineClosed(options));
  EXPECT_FALSE(std::filesystem::exists(options.ready_file));
}

TEST(ServerTest, AFailedStartStopsWhatStartedAndNamesTheCause) {
  testsupport::TempDir dir("server-test-");
  const ServerOptions options = Options(dir);
  Journal journal;
  std::vector<ListenerFactory> listeners = {
      Recording("first", &journal),
      [](const ListenerContext&) -> absl::StatusOr<std::unique_ptr<Listener>> {
        return absl::UnavailableError("cannot bind the second listener");
      }};
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, listeners);
  EXPECT_EQ(server.status().message(), "cannot bind the second listener");
  EXPECT_TRUE(journal.events.empty());  // nothing was served, so nothing drained
  EXPECT_TRUE(EngineClosed(options));
  EXPECT_FALSE(std::filesystem::exists(options.ready_file));

  ServerOptions taken = Options(dir);
  absl::StatusOr<std::unique_ptr<Server>> first = Server::Start(taken);
  ASSERT_TRUE(first.ok()) << first.status();
  taken.data_dirs = {dir.Sub("other")};
  taken.control_listen = (*first)->addresses().Find(core::ReadyFile::kControl)->ToString();
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Start(taken);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken.control_listen));
}

TEST(ServerTest, CommittedOutputSurvivesAStopAndARestart) {
  testsupport::TempDir dir("server-test-");
  const ServerOptions options = Options(dir);
  const client::ShuffleHandle handle{
      .app_id = "app-1", .token = "", .shuffle = core::ShuffleId(3), .num_partitions = 2};
  std::vector<client::MapStatus> statuses;
  {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    proto::RegisterShuffleRequest request;
    request.mutable_credentials()->set_app_id("app-1");
    request.set_shuffle_id(3);
    request.set_num_partitions(2);
    proto::RegisterShuffleResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(proto::ShuffleControl::NewStub(Channel(**server))
                    ->RegisterShuffle(&context, request, &response)
                    .ok());
    client::ClientOptions client_options = testsupport::WithRunTls({});
    client_options.server = (*server)->addresses().Find(core::ReadyFile::kSocket)->ToString();
    auto writer =
        client::MapOutputWriter::Open(client_options, handle, core::MapId(0), core::AttemptId(0));
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE((*writer)->Write(core::PartitionId(i % 2), std::to_string(i), "value").ok());
    }
    auto committed = (*writer)->Commit();
    ASSERT_TRUE(committed.ok()) << committed.status();
    statuses.push_back(committed->status);
  }  // ~Server stops it
  absl::StatusOr<std::unique_ptr<Server>> again = Server::Start(options);
  ASSERT_TRUE(again.ok()) << again.status();
  client::ClientOptions client_options = testsupport::WithRunTls({});
  client_options.server = (*again)->addresses().Find(core::ReadyFile::kData)->ToString();
  statuses[0].address = client_options.server;  // the TCP port changed with the restart
  auto reader = client::PartitionReader::Open(client_options, handle, core::PartitionId(0),
                                              core::PartitionId(2), statuses);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<testsupport::ReadTotals> read = testsupport::ReadToEnd(**reader);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->records, 1000u);
}

}  // namespace
}  // namespace shuffle::server
