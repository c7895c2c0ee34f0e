// The shuffle-server binary as a child process: start on port 0 with a temporary data dir, find
// it through --ready-file, use its control plane over gRPC, stop it with SIGTERM / SIGINT and
// expect exit code 0; restart it on the same data; --help and command-line errors. Also the flag
// parsing itself. Children are killed by PID (SIGKILL) and reaped whatever happens. In the TLS run
// (tests/support/tls_run.h) the servers get the run's certificate and the calls check it.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "core/tls/grpc_credentials.h"
#include "shuffle-server/server_options.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/files.h"
#include "shuffle/core/ready_file.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/support/program.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::server {
namespace {

using ::testing::HasSubstr;
using testsupport::TempDir;

constexpr std::chrono::seconds kTimeout(20);

// The server binary as a child with stdout and stderr in files of `dir`; SIGKILLed and reaped
// when the object dies unless it already exited.
class Child {
 public:
  Child(const std::string& dir, std::vector<std::string> args)
      : out_(dir + "/stdout"), err_(dir + "/stderr") {
    args.insert(args.begin(), SHUFFLE_SERVER_BINARY);
    absl::StatusOr<std::unique_ptr<core::Process>> process =
        testsupport::StartProgram(args, out_, err_);
    EXPECT_TRUE(process.ok()) << process.status();
    if (process.ok()) {
      process_ = *std::move(process);
    }
  }

  pid_t pid() const { return process_ != nullptr ? process_->pid() : -1; }
  std::string out() const { return core::ReadFileToString(out_).value_or(""); }
  std::string err() const { return core::ReadFileToString(err_).value_or(""); }
  core::Process& process() { return *process_; }

  // Exit code, or -1 for a signal or a timeout.
  int ExitCode(std::chrono::milliseconds timeout) {
    std::optional<core::ExitInfo> exit =
        process_ != nullptr ? process_->Wait(timeout) : std::nullopt;
    return exit.has_value() && exit->signal == 0 ? exit->exit_code : -1;
  }

 private:
  std::string out_;
  std::string err_;
  std::unique_ptr<core::Process> process_;
};

struct Ready {
  std::string data;
  std::string control;
  std::string metrics;
};

// Waits (bounded) for the ready file; nullopt if the child exits first or time runs out.
std::optional<Ready> WaitReady(Child& child, const std::string& path) {
  absl::StatusOr<core::ReadyFile> file = testsupport::AwaitServerReady(child.process(), path);
  if (!file.ok()) {
    return std::nullopt;
  }
  auto address = [&](std::string_view key) {
    std::optional<core::Endpoint> e = file->Find(key);
    return e.has_value() ? e->ToString() : "";
  };
  return Ready{.data = address(core::ReadyFile::kData),
               .control = address(core::ReadyFile::kControl),
               .metrics = address(core::ReadyFile::kMetrics)};
}

std::unique_ptr<proto::ShuffleControl::Stub> Connect(const std::string& address) {
  return proto::ShuffleControl::NewStub(*tls::NewGrpcChannel(address, testsupport::RunClientTls()));
}

grpc::Status Call(proto::ShuffleControl::Stub& stub, const proto::RegisterShuffleRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  proto::RegisterShuffleResponse response;
  return stub.RegisterShuffle(&context, request, &response);
}

proto::GetStatusResponse Status(proto::ShuffleControl::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  proto::GetStatusResponse response;
  grpc::Status status = stub.GetStatus(&context, proto::GetStatusRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

bool CanConnect(const std::string& host_port) {
  const uint16_t port = core::Endpoint::Parse(host_port)->port();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A serving server's flags (with the run's certificate in the TLS run).
std::vector<std::string> ServerArgs(const std::string& dir) {
  std::vector<std::string> args = {
      "--data-dir=" + dir + "/data",  "--listen=127.0.0.1:0",  "--control-listen=127.0.0.1:0",
      "--metrics-listen=127.0.0.1:0", "--node-name=test-node", "--ready-file=" + dir + "/ready",
      "--memory-budget-mib=16",       "--min-free-mib=0",      "--log-format=json"};
  for (const std::string& flag : testsupport::RunServerTlsArgs()) {
    args.push_back(flag);
  }
  return args;
}

TEST(ServerMainTest, ServesThenStopsCleanlyOnSigterm) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  {
    Child child(dir.path(), ServerArgs(dir.path()));
    std::optional<Ready> ready = WaitReady(child, dir.path() + "/ready");
    ASSERT_TRUE(ready.has_value()) << "not ready; stderr:\n" << child.err();
    EXPECT_THAT(ready->data, HasSubstr("127.0.0.1:"));
    EXPECT_TRUE(CanConnect(ready->data));
    EXPECT_THAT(ready->metrics, HasSubstr("127.0.0.1:"));
    EXPECT_NE(ready->metrics, "127.0.0.1:0");
    EXPECT_TRUE(CanConnect(ready->metrics));

    std::unique_ptr<proto::ShuffleControl::Stub> stub = Connect(ready->control);
    proto::RegisterShuffleRequest request;
    request.mutable_credentials()->set_app_id("app-1");
    request.set_shuffle_id(3);
    request.set_num_partitions(8);
    grpc::Status registered = Call(*stub, request);
    ASSERT_TRUE(registered.ok()) << registered.error_message();
    proto::GetStatusResponse status = Status(*stub);
    EXPECT_EQ(status.node(), "test-node");
    ASSERT_EQ(status.applications_size(), 1);
    EXPECT_EQ(status.applications(0).shuffles(), 1u);

    ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
    EXPECT_EQ(child.ExitCode(kTimeout), 0) << child.err();
    EXPECT_THAT(child.err(), HasSubstr("storage engine drained"));  // the Drain RPC's code
    EXPECT_THAT(child.err(), HasSubstr("shuffle-server stopped"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/ready"));
  }
  // Restarted on the same data, the shuffle is still there; SIGINT stops it too.
  Child child(dir.path(), ServerArgs(dir.path()));
  std::optional<Ready> ready = WaitReady(child, dir.path() + "/ready");
  ASSERT_TRUE(ready.has_value()) << "not ready after restart; stderr:\n" << child.err();
  EXPECT_THAT(child.err(), HasSubstr("storage engine open"));
  std::unique_ptr<proto::ShuffleControl::Stub> stub = Connect(ready->control);
  proto::GetStatusResponse status = Status(*stub);
  ASSERT_EQ(status.applications_size(), 1);
  EXPECT_EQ(status.applications(0).app_id(), "app-1");
  ASSERT_EQ(kill(child.pid(), SIGINT), 0);
  EXPECT_EQ(child.ExitCode(kTimeout), 0) << child.err();
}

TEST(ServerMainTest, ConfigFileSettingsWithCommandLineOverrides) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string config = dir.path() + "/shuffle.yaml";
  std::ofstream(config) << "# shuffle-server settings\n"
                        << "data-dirs: [" << dir.path() << "/data]\n"
                        << "listen: 127.0.0.1:0\ncontrol-listen: 127.0.0.1:0\n"
                        << "metrics-listen: 127.0.0.1:0\nnode-name: from-file\n"
                        << "namespace-quotas: {team-a: 100}\ndrain-timeout-seconds: 5\n";
  std::vector<std::string> args = {"--config=" + config, "--node-name=from-flag",
                                   "--ready-file=" + dir.path() + "/ready", "--min-free-mib=0"};
  for (const std::string& flag : testsupport::RunServerTlsArgs()) {
    args.push_back(flag);
  }
  Child child(dir.path(), args);
  std::optional<Ready> ready = WaitReady(child, dir.path() + "/ready");
  ASSERT_TRUE(ready.has_value()) << "not ready; stderr:\n" << child.err();
  std::unique_ptr<proto::ShuffleControl::Stub> stub = Connect(ready->control);
  EXPECT_EQ(Status(*stub).node(), "from-flag");  // the command line wins
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data/shuffles"));
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  EXPECT_EQ(child.ExitCode(kTimeout), 0) << child.err();
}

TEST(ServerMainTest, BadConfigFileExitsTwoNamingFileAndKey) {
  TempDir dir;
  const std::string config = dir.path() + "/bad.yaml";
  std::ofstream(config) << "data-dirs: [/tmp/x]\nmemory-budget-mib: [1, 2]\n";
  Child child(dir.path(), {"--config=" + config});
  EXPECT_EQ(child.ExitCode(kTimeout), 2);
  EXPECT_THAT(child.err(), HasSubstr("config file " + config + " line 2 key 'memory-budget-mib'"));
  EXPECT_THAT(child.err(), HasSubstr("expects a single value, not a list"));
}

TEST(ServerMainTest, HelpExitsZeroAndListsFlags) {
  TempDir dir;
  Child child(dir.path(), {"--help"});
  ASSERT_EQ(child.ExitCode(kTimeout), 0) << child.err();
  EXPECT_THAT(child.out(), HasSubstr("--data-dir"));
  EXPECT_THAT(child.out(), HasSubstr("--ready-file"));
}

TEST(ServerMainTest, MissingDataDirFailsClearly) {
  TempDir dir;
  Child child(dir.path(), {"--listen=127.0.0.1:0"});
  EXPECT_EQ(child.ExitCode(kTimeout), 2);
  EXPECT_THAT(child.err(), HasSubstr("--data-dir is required"));
  EXPECT_THAT(child.err(), HasSubstr("--help"));
}

TEST(ServerMainTest, StartFailureExitsOne) {
  TempDir dir;
  // The data directory is a regular file: the engine cannot open.
  { std::ofstream(dir.path() + "/file") << "x"; }
  Child child(dir.path(), {"--data-dir=" + dir.path() + "/file", "--listen=127.0.0.1:0",
                           "--control-listen=127.0.0.1:0"});
  EXPECT_EQ(child.ExitCode(kTimeout), 1);
  EXPECT_THAT(child.err(), HasSubstr("failed to start"));
}

// ---- Flag parsing ---------------------------------------------------------------------------

std::optional<std::string> FakeEnv(const char* name) {
  if (std::string(name) == "NODE_NAME") {
    return "node-from-env";
  }
  if (std::string(name) == "POD_IP") {
    return "10.1.2.3";
  }
  return std::nullopt;
}

std::optional<std::string> EmptyEnv(const char* /*name*/) { return std::nullopt; }

TEST(ServerOptionsTest, ParsesRepeatedAndCommaSeparatedDirs) {
  absl::StatusOr<ServerOptions> o = ParseServerOptions(
      {"--data-dir=/a,/b", "--data-dir", "/c", "--extent-kib=64", "--log-level", "debug"}, EmptyEnv,
      "host-1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->data_dirs, ::testing::ElementsAre("/a", "/b", "/c"));
  EXPECT_EQ(o->node_name, "host-1");
  EXPECT_EQ(o->listen, "0.0.0.0:7340");
  EXPECT_EQ(o->control_listen, "0.0.0.0:7338");
  EXPECT_EQ(ToEngineOptions(*o).extent_bytes, 64u << 10);
  EXPECT_EQ(ToEngineOptions(*o).memory_budget_bytes, 256u << 20);
  EXPECT_EQ(ToDataPlaneOptions(*o, "").unix_send_buffer_bytes, 4u << 20);
  absl::StatusOr<ServerOptions> kernel_default =
      ParseServerOptions({"--data-dir=/a", "--socket-send-buffer-kib=0"}, EmptyEnv, "host-1");
  ASSERT_TRUE(kernel_default.ok()) << kernel_default.status();
  EXPECT_EQ(ToDataPlaneOptions(*kernel_default, "").unix_send_buffer_bytes, 0u);
}

TEST(ServerOptionsTest, RefusesBadFlagsNamingThem) {
  auto error = [](const std::vector<std::string>& args) {
    return std::string(ParseServerOptions(args, EmptyEnv, "h").status().message());
  };
  EXPECT_THAT(error({"--data-dir=/a", "--memory-budget-mib=lots"}),
              HasSubstr("--memory-budget-mib=lots"));
  EXPECT_THAT(error({"--data-dir=/a", "--extent-kib=6"}), HasSubstr("multiple of 4"));
  EXPECT_THAT(error({"--data-dir=/a", "--no-such-flag=1"}), HasSubstr("unknown flag --no-such"));
  EXPECT_THAT(error({"--data-dir=/a", "--log-level=loud"}), HasSubstr("--log-level"));
  EXPECT_THAT(error({"--data-dir=/a", "--data-dir=/a"}), HasSubstr("twice"));
  EXPECT_THAT(error({"--data-dir"}), HasSubstr("needs a value"));
  EXPECT_THAT(error({"/a"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(error({"--data-dir=/a", "--listen=", "--socket="}), HasSubstr("nowhere to listen"));
  EXPECT_THAT(error({"--data-dir=/a", "--token-review"}),
              HasSubstr("--token-review needs --secret-file"));
  EXPECT_THAT(error({"--data-dir=/a", "--token-review-cache-seconds=4000"}),
              HasSubstr("--token-review-cache-seconds"));
  EXPECT_TRUE(ParseServerOptions({"--help"}, EmptyEnv, "h")->help);
}

TEST(ServerOptionsTest, NodeNameAndAdvertiseAddressDefaults) {
  absl::StatusOr<ServerOptions> o =
      ParseServerOptions({"--data-dir=/a", "--listen=0.0.0.0:7000"}, FakeEnv, "host-1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->node_name, "node-from-env");
  EXPECT_EQ(*AdvertiseAddress(*o, FakeEnv), "10.1.2.3:7000");
  EXPECT_EQ(*AdvertiseAddress(*o, EmptyEnv), "");  // the data plane's own default

  o->advertise_address = "shuffle.local";
  EXPECT_EQ(*AdvertiseAddress(*o, FakeEnv), "shuffle.local:7000");
  o->advertise_address = "shuffle.local:9000";
  EXPECT_EQ(*AdvertiseAddress(*o, FakeEnv), "shuffle.local:9000");
  o->advertise_address = "fd00::1";
  EXPECT_EQ(*AdvertiseAddress(*o, FakeEnv), "[fd00::1]:7000");

  o->listen = "127.0.0.1:0";
  o->advertise_address = "";
  EXPECT_EQ(*AdvertiseAddress(*o, FakeEnv), "");  // port known only after binding
  o->advertise_address = "shuffle.local";
  EXPECT_FALSE(AdvertiseAddress(*o, FakeEnv).ok());
}

TEST(ServerOptionsTest, AdoptionNeedsTheNodesDirectoryOnTheSharedVolume) {
  absl::StatusOr<ServerOptions> o = ParseServerOptions(
      {"--data-dir=/shared/./n1", "--adopt-root=/shared", "--node-name=n1", "--secret-file=/s",
       "--registration-secret-file=/o", "--listen=10.0.0.1:7340"},
      EmptyEnv, "h");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(AdoptAdvertiseHost(*o, EmptyEnv), "10.0.0.1");
  EXPECT_EQ(AdoptAdvertiseHost(*o, FakeEnv), "10.1.2.3");  // $POD_IP
  o->adopt_advertise_host = "10.9.9.9";
  EXPECT_EQ(AdoptAdvertiseHost(*o, FakeEnv), "10.9.9.9");

  // The adopted directory's server: its own directory and name, ports picked, nothing else.
  const ServerOptions adopted = AdoptedServerOptions(*o, "n0", "/shared/.adopted/n0@1");
  EXPECT_THAT(adopted.data_dirs, ::testing::ElementsAre("/shared/.adopted/n0@1"));
  EXPECT_EQ(adopted.node_name, "n0");
  EXPECT_EQ(adopted.listen, "0.0.0.0:0");
  EXPECT_EQ(adopted.control_listen, "0.0.0.0:0");
  EXPECT_EQ(adopted.secret_file, "/s");
  EXPECT_TRUE(adopted.metrics_listen.empty());
  EXPECT_TRUE(adopted.adopt_root.empty());
  EXPECT_TRUE(adopted.ready_file.empty());

  auto error = [](const std::vector<std::string>& args) {
    return std::string(ParseServerOptions(args, EmptyEnv, "h").status().message());
  };
  EXPECT_THAT(error({"--data-dir=/data", "--adopt-root=/shared", "--node-name=n1"}),
              HasSubstr("needs this server's data in /shared/n1"));
  EXPECT_THAT(error({"--data-dir=/shared/n1,/disk2", "--adopt-root=/shared", "--node-name=n1"}),
              HasSubstr("one --data-dir"));
}

}  // namespace
}  // namespace shuffle::server
