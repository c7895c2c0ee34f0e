// TLS on the server's TCP planes, end to end in process: a Server started with a certificate,
// the client library writing and reading through it (file ranges that are sent with sendfile in
// plaintext go through OpenSSL here), the control plane (gRPC) and /metrics (HTTPS) refusing
// plaintext, the refusals (no CA, another CA, a wrong host name, TLS 1.0, mutual TLS without a
// client certificate) with nothing stored, and a certificate rotated on disk reaching new
// connections of every plane while a connection opened before it keeps working.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/tls/grpc_credentials.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "shuffle-client/frame_connection.h"
#include "shuffle-server/server.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "shuffle/proto/data.pb.h"
#include "tests/support/http.h"
#include "tests/support/read_totals.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace shuffle::server {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kPartitions = 2;

class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_cert_ = pki_.Issue("server", {"shuffle.test", "127.0.0.1"});
    options_.data_dirs = {dir_.Sub("data")};
    options_.listen = "127.0.0.1:0";
    options_.socket_path = dir_.Sub("data.sock");
    options_.control_listen = "127.0.0.1:0";
    options_.metrics_listen = "127.0.0.1:0";
    options_.node_name = "tls-node";
    options_.memory_budget_mib = 64;
    options_.min_free_mib = 0;
    options_.tls_cert_file = server_cert_.cert_file;
    options_.tls_key_file = server_cert_.key_file;
    control_tls_.ca_file = pki_.ca_file();
  }

  void StartServer() {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    proto::RegisterShuffleRequest request;
    request.mutable_credentials()->set_app_id("app-1");
    request.set_shuffle_id(7);
    request.set_num_partitions(kPartitions);
    proto::RegisterShuffleResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        tls::NewGrpcChannel(Address(core::ReadyFile::kControl), control_tls_);
    ASSERT_TRUE(channel.ok()) << channel.status();
    const grpc::Status registered =
        proto::ShuffleControl::NewStub(*channel)->RegisterShuffle(&context, request, &response);
    ASSERT_TRUE(registered.ok()) << registered.error_message();
  }

  // The control plane's health check through `files`: OK, or gRPC's error.
  grpc::Status ControlHealth(const tls::ClientFiles& files) const {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        tls::NewGrpcChannel(Address(core::ReadyFile::kControl), files);
    if (!channel.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(channel.status().message()));
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    return grpc::health::v1::Health::NewStub(*channel)->Check(&context, request, &response);
  }

  // A TLS 1.0 handshake (and nothing newer offered) with the plane at `key`; its result.
  absl::Status Tls10Handshake(std::string_view key) const {
    const core::Endpoint endpoint = *server_->addresses().Find(key);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(endpoint.port());
    ::inet_pton(AF_INET, endpoint.host().c_str(), &address.sin_addr);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd);
      return absl::InternalError("connect failed");
    }
    timeval timeout{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    tls::SslCtxPtr old(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    SSL_CTX_set_security_level(old.get(), 0);
    SSL_CTX_set_min_proto_version(old.get(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old.get(), TLS1_VERSION);
    SSL_CTX_load_verify_locations(old.get(), pki_.ca_file().c_str(), nullptr);
    SSL_CTX_set_verify(old.get(), SSL_VERIFY_PEER, nullptr);
    tls::ClientFiles files;
    files.ca_file = pki_.ca_file();
    absl::StatusOr<tls::SslPtr> handshake =
        tls::ClientHandshake(fd, old.get(), files, endpoint.host(), endpoint.ToString());
    ::close(fd);
    return handshake.status();
  }

  std::string Address(std::string_view key) const {
    return server_->addresses().Find(key)->ToString();
  }

  client::ClientOptions TlsClient() const {
    client::ClientOptions o;
    o.server = Address(core::ReadyFile::kData);
    o.tls_ca_file = pki_.ca_file();
    o.compression_level = 0;  // blocks as large as written: fetches span many TLS records
    o.max_retries = 1;
    o.initial_backoff_ms = 10;
    return o;
  }

  // Writes map `map` with `records` records of `value_bytes` each; its MapStatus.
  absl::StatusOr<client::MapStatus> WriteMap(const client::ClientOptions& options, uint32_t map,
                                             int records, size_t value_bytes) {
    absl::StatusOr<std::unique_ptr<client::MapOutputWriter>> writer =
        client::MapOutputWriter::Open(options, handle_, core::MapId(map), core::AttemptId(0));
    if (!writer.ok()) {
      return writer.status();
    }
    for (int i = 0; i < records; ++i) {
      std::string value(value_bytes, static_cast<char>('a' + i % 26));
      absl::Status st =
          (*writer)->Write(core::PartitionId(i % kPartitions), std::to_string(i), value);
      if (!st.ok()) {
        return st;
      }
    }
    absl::StatusOr<client::MapOutputWriter::CommitResult> committed = (*writer)->Commit();
    if (!committed.ok()) {
      return committed.status();
    }
    return committed->status;
  }

  // Reads every partition of `statuses`; the number of records and of value bytes.
  absl::StatusOr<testsupport::ReadTotals> ReadAll(const client::ClientOptions& options,
                                                  const std::vector<client::MapStatus>& statuses) {
    absl::StatusOr<std::unique_ptr<client::PartitionReader>> reader = client::PartitionReader::Open(
        options, handle_, core::PartitionId(0), core::PartitionId(kPartitions), statuses);
    if (!reader.ok()) {
      return reader.status();
    }
    return testsupport::ReadToEnd(**reader);
  }

  double Metric(std::string_view line_prefix) const {
    absl::StatusOr<std::string> page = testsupport::HttpGetOk(
        *server_->addresses().Find(core::ReadyFile::kMetrics), "/metrics", pki_.ca_file());
    EXPECT_TRUE(page.ok()) << page.status();
    for (absl::string_view line : absl::StrSplit(page.value_or(""), '\n')) {
      if (absl::StartsWith(line, absl::string_view(line_prefix.data(), line_prefix.size()))) {
        double value = 0;
        EXPECT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) << line;
        return value;
      }
    }
    ADD_FAILURE() << "no metric line starts with " << line_prefix;
    return -1;
  }

  // Block bytes and committed maps the server holds (none when every write was refused).
  uint64_t StoredBytes() const {
    uint64_t stored = 0;
    for (const storage::ShuffleUsage& usage : server_->engine().Usage()) {
      stored += usage.stored_bytes + usage.committed_maps;
    }
    return stored;
  }

  testsupport::TempDir dir_{"server-tls-test-"};
  testsupport::TestPki pki_{dir_.path()};
  testsupport::IssuedCertificate server_cert_;
  tls::ClientFiles control_tls_;  // how StartServer reaches the control plane
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  const client::ShuffleHandle handle_{
      .app_id = "app-1", .token = "", .shuffle = core::ShuffleId(7), .num_partitions = kPartitions};
};

TEST_F(ServerTlsTest, WritesAndReadsThroughTlsAndTheUnixSocketStaysPlain) {
  StartServer();
  // 40 records of 300 KiB: blocks larger than one TLS record and than one file read.
  absl::StatusOr<client::MapStatus> big = WriteMap(TlsClient(), 0, 40, 300 << 10);
  ASSERT_TRUE(big.ok()) << big.status();
  client::ClientOptions local;
  local.server = Address(core::ReadyFile::kSocket);  // no CA needed on the node's socket
  absl::StatusOr<client::MapStatus> small = WriteMap(local, 1, 1000, 100);
  ASSERT_TRUE(small.ok()) << small.status();
  small->address = Address(core::ReadyFile::kData);  // read it over TCP, through TLS

  absl::StatusOr<testsupport::ReadTotals> read = ReadAll(TlsClient(), {*big, *small});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->records, 1040u);
  EXPECT_EQ(read->value_bytes, 40ull * (300 << 10) + 1000 * 100);
  EXPECT_GE(Metric("shuffle_tls_handshakes_total{result=\"ok\"}"), 2);
  EXPECT_EQ(Metric("shuffle_tls_handshakes_total{result=\"failed\"}"), 0);
}

TEST_F(ServerTlsTest, RefusesClientsThatCannotCheckTheServerAndStoresNothing) {
  StartServer();
  client::ClientOptions plaintext = TlsClient();
  plaintext.tls_ca_file.clear();
  EXPECT_FALSE(WriteMap(plaintext, 0, 10, 10).ok());

  testsupport::TempDir other_dir("server-tls-other-");
  testsupport::TestPki other(other_dir.path(), "other-ca");
  client::ClientOptions foreign = TlsClient();
  foreign.tls_ca_file = other.ca_file();
  absl::Status st = WriteMap(foreign, 0, 10, 10).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(st.message(), HasSubstr("unable to get local issuer certificate"));

  client::ClientOptions misnamed = TlsClient();
  misnamed.tls_server_name = "elsewhere.test";
  st = WriteMap(misnamed, 0, 10, 10).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(st.message(), HasSubstr("hostname mismatch"));
  EXPECT_THAT(st.message(), HasSubstr("elsewhere.test"));

  EXPECT_EQ(StoredBytes(), 0u);
  EXPECT_GE(Metric("shuffle_tls_handshakes_total{result=\"failed\"}"), 3);
  // The server is unharmed: a client with the CA still gets through.
  EXPECT_TRUE(WriteMap(TlsClient(), 0, 10, 10).ok());
}

TEST_F(ServerTlsTest, RefusesTls10OnEveryPlane) {
  StartServer();
  for (std::string_view plane :
       {core::ReadyFile::kData, core::ReadyFile::kControl, core::ReadyFile::kMetrics}) {
    const absl::Status handshake = Tls10Handshake(plane);
    EXPECT_EQ(handshake.code(), absl::StatusCode::kUnavailable) << plane << ": " << handshake;
  }
  EXPECT_GE(Metric("shuffle_tls_handshakes_total{result=\"failed\"}"), 1);
}

TEST_F(ServerTlsTest, ControlPlaneAndMetricsRefusePlaintextAndForeignCas) {
  StartServer();
  EXPECT_TRUE(ControlHealth(control_tls_).ok());
  const grpc::Status plaintext = ControlHealth(tls::ClientFiles{});
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();
  testsupport::TempDir other_dir("server-tls-other-");
  testsupport::TestPki other(other_dir.path(), "other-ca");
  tls::ClientFiles foreign;
  foreign.ca_file = other.ca_file();
  EXPECT_EQ(ControlHealth(foreign).error_code(), grpc::StatusCode::UNAVAILABLE);
  tls::ClientFiles misnamed = control_tls_;
  misnamed.server_name = "elsewhere.test";
  EXPECT_EQ(ControlHealth(misnamed).error_code(), grpc::StatusCode::UNAVAILABLE);
  tls::ClientFiles by_name = control_tls_;
  by_name.server_name = "shuffle.test";
  EXPECT_TRUE(ControlHealth(by_name).ok());

  const core::Endpoint metrics = *server_->addresses().Find(core::ReadyFile::kMetrics);
  absl::StatusOr<std::string> page = testsupport::HttpGetOk(metrics, "/metrics", pki_.ca_file());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(*page, HasSubstr("shuffle_tls_handshakes_total"));
  EXPECT_FALSE(testsupport::HttpGet(metrics, "/healthz").ok());  // plaintext HTTP
  EXPECT_FALSE(testsupport::HttpGet(metrics, "/healthz", other.ca_file()).ok());
}

TEST_F(ServerTlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  const testsupport::IssuedCertificate executor = pki_.Issue("executor", {"executor-1"});
  options_.tls_client_ca_file = pki_.ca_file();
  control_tls_.cert_file = executor.cert_file;
  control_tls_.key_file = executor.key_file;
  StartServer();
  // The control plane asks for a client certificate too; /metrics does not (Prometheus, probes).
  tls::ClientFiles anonymous_control;
  anonymous_control.ca_file = pki_.ca_file();
  EXPECT_FALSE(ControlHealth(anonymous_control).ok());
  EXPECT_TRUE(ControlHealth(control_tls_).ok());
  EXPECT_TRUE(testsupport::HttpGetOk(*server_->addresses().Find(core::ReadyFile::kMetrics),
                                     "/healthz", pki_.ca_file())
                  .ok());
  absl::Status anonymous = WriteMap(TlsClient(), 0, 10, 10).status();
  EXPECT_FALSE(anonymous.ok());
  EXPECT_EQ(StoredBytes(), 0u);
  client::ClientOptions with_cert = TlsClient();
  with_cert.tls_cert_file = executor.cert_file;
  with_cert.tls_key_file = executor.key_file;
  absl::StatusOr<client::MapStatus> written = WriteMap(with_cert, 0, 100, 1000);
  ASSERT_TRUE(written.ok()) << written.status();
  absl::StatusOr<testsupport::ReadTotals> read = ReadAll(with_cert, {*written});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->records, 100u);
}

TEST_F(ServerTlsTest, ARotatedCertificateReachesNewConnectionsAndSparesOpenOnes) {
  StartServer();
  client::ClientOptions old_name = TlsClient();
  old_name.tls_server_name = "shuffle.test";
  absl::StatusOr<client::MapStatus> written = WriteMap(old_name, 0, 200, 10 << 10);
  ASSERT_TRUE(written.ok()) << written.status();
  // A transfer in progress: a reader that has consumed part of its records.
  absl::StatusOr<std::unique_ptr<client::PartitionReader>> reader = client::PartitionReader::Open(
      old_name, handle_, core::PartitionId(0), core::PartitionId(kPartitions), {*written});
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string_view key;
  std::string_view value;
  int records = 0;
  for (; records < 50; ++records) {
    absl::StatusOr<bool> next = (*reader)->Next(&key, &value);
    ASSERT_TRUE(next.ok() && *next) << records << ": " << next.status();
  }
  absl::StatusOr<std::unique_ptr<client::FrameConnection>> open = client::FrameConnection::Connect(
      Address(core::ReadyFile::kData), 5000, 5000, 1 << 20, client::TlsFiles(old_name));
  ASSERT_TRUE(open.ok()) << open.status();

  // cert-manager renews the certificate under a new name; the server notices within a second.
  pki_.Issue("server", {"renewed.test", "127.0.0.1"});
  client::ClientOptions new_name = TlsClient();
  new_name.tls_server_name = "renewed.test";
  absl::Status renewed;
  for (int i = 0; i < 50; ++i) {
    renewed = WriteMap(new_name, 1, 10, 10).status();
    if (renewed.ok()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(renewed.ok()) << "the renewed certificate was never served: " << renewed;
  // The control plane and /metrics follow (gRPC's file watcher looks once a second).
  tls::ClientFiles renewed_control = control_tls_;
  renewed_control.server_name = "renewed.test";
  grpc::Status control = ControlHealth(renewed_control);
  for (int i = 0; i < 50 && !control.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    control = ControlHealth(renewed_control);
  }
  EXPECT_TRUE(control.ok()) << "the control plane never served the renewed certificate: "
                            << control.error_message();
  EXPECT_EQ(WriteMap(old_name, 2, 10, 10).status().code(),
            absl::StatusCode::kFailedPrecondition);  // new connections: the new certificate

  // The connection opened before the rotation still answers, and the reader finishes.
  ASSERT_TRUE((*open)->Send(core::FrameType::kPing, 1, proto::Credentials()).ok());
  absl::StatusOr<core::Frame> pong = (*open)->Receive();
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->type, core::FrameType::kPong);
  absl::StatusOr<testsupport::ReadTotals> rest = testsupport::ReadToEnd(**reader);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(records + static_cast<int>(rest->records), 200);
}

}  // namespace
}  // namespace shuffle::server
