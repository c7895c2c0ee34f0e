#include "tests/integration/server_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "shuffle/proto/control.grpc.pb.h"

namespace shuffle::testing {
namespace {

absl::Status FromGrpc(const grpc::Status& st, const std::string& what) {
  if (st.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      absl::StrCat(what, ": ", st.error_message()));
}

std::unique_ptr<proto::ShuffleControl::Stub> Stub(const std::string& address) {
  return proto::ShuffleControl::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& binary, const std::string& dir, const std::string& node_name,
    const std::string& socket, const std::string& listen,
    const std::vector<std::string>& extra_args) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string ready = dir + "/ready";
  std::filesystem::remove(ready, ec);
  std::vector<std::string> args = {binary,
                                   "--data-dir=" + dir + "/data",
                                   "--listen=" + listen,
                                   "--control-listen=127.0.0.1:0",
                                   "--metrics-listen=127.0.0.1:0",
                                   "--node-name=" + node_name,
                                   "--ready-file=" + ready,
                                   "--memory-budget-mib=64",
                                   "--min-free-mib=16",
                                   "--log-level=warning"};
  if (!socket.empty()) {
    args.push_back("--socket=" + socket);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto process = std::unique_ptr<ServerProcess>(new ServerProcess());
  process->pid_ = fork();
  if (process->pid_ < 0) {
    return absl::InternalError("fork failed");
  }
  if (process->pid_ == 0) {
    // The server dies with the test process, even if the test crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  // The ready file holds "data=HOST:PORT control=HOST:PORT metrics=HOST:PORT socket=PATH".
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(process->pid_, &status, WNOHANG) == process->pid_) {
      process->pid_ = -1;
      return absl::InternalError(
          absl::StrCat("shuffle-server exited during start (status ", status, ")"));
    }
    std::ifstream in(ready);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) {
      std::istringstream fields(line);
      std::string field;
      while (fields >> field) {
        if (field.rfind("data=", 0) == 0) {
          process->data_address_ = field.substr(5);
        } else if (field.rfind("control=", 0) == 0) {
          process->control_address_ = field.substr(8);
        } else if (field.rfind("metrics=", 0) == 0) {
          process->metrics_address_ = field.substr(8);
        }
      }
      if (!socket.empty()) {
        process->data_address_ = "unix:" + socket;
      }
      if (!process->data_address_.empty() && !process->control_address_.empty()) {
        return process;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError("shuffle-server did not become ready within 20 s");
}

uint16_t ServerProcess::FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

ServerProcess::~ServerProcess() { Kill(); }

void ServerProcess::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

absl::Status ServerProcess::Terminate(int timeout_ms) {
  if (pid_ <= 0) {
    return absl::OkStatus();
  }
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0
                 ? absl::OkStatus()
                 : absl::InternalError(absl::StrCat("exit status ", status));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError("shuffle-server did not exit after SIGTERM");
}

absl::StatusOr<std::string> ServerProcess::RegisterApplication(const std::string& app,
                                                               const std::string& ns,
                                                               const std::string& identity_token) {
  proto::RegisterApplicationRequest request;
  request.set_app_id(app);
  request.set_namespace_(ns);
  request.set_identity_token(identity_token);
  proto::RegisterApplicationResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  absl::Status st =
      FromGrpc(Stub(control_address_)->RegisterApplication(&context, request, &response),
               "RegisterApplication");
  if (!st.ok()) {
    return st;
  }
  return response.token();
}

absl::Status ServerProcess::RegisterShuffle(const std::string& app, uint32_t shuffle,
                                            uint32_t partitions) {
  return RegisterShuffle(app, "", shuffle, partitions);
}

absl::Status ServerProcess::RegisterShuffle(const std::string& app, const std::string& token,
                                            uint32_t shuffle, uint32_t partitions) {
  proto::RegisterShuffleRequest request;
  request.mutable_credentials()->set_app_id(app);
  request.mutable_credentials()->set_token(token);
  request.set_shuffle_id(shuffle);
  request.set_num_partitions(partitions);
  proto::RegisterShuffleResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return FromGrpc(Stub(control_address_)->RegisterShuffle(&context, request, &response),
                  "RegisterShuffle");
}

absl::Status ServerProcess::SealShuffle(const std::string& app, uint32_t shuffle) {
  return SealShuffle(app, "", shuffle);
}

absl::Status ServerProcess::SealShuffle(const std::string& app, const std::string& token,
                                        uint32_t shuffle) {
  proto::SealShuffleRequest request;
  request.mutable_credentials()->set_app_id(app);
  request.mutable_credentials()->set_token(token);
  request.set_shuffle_id(shuffle);
  proto::SealShuffleResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return FromGrpc(Stub(control_address_)->SealShuffle(&context, request, &response), "SealShuffle");
}

}  // namespace shuffle::testing
