#include "tests/support/server_process.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shuffle/client/control_client.h"
#include "shuffle/core/status_macros.h"
#include "tests/support/program.h"
#include "tests/support/tls_run.h"

namespace shuffle::testsupport {

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& binary, const std::string& dir, const std::string& node_name,
    const std::string& socket, const std::string& listen,
    const std::vector<std::string>& extra_args) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string ready = dir + "/ready";
  std::filesystem::remove(ready, ec);  // a stale one would be read as this start's
  core::ProcessSpec spec;
  const bool own_data_dir =
      std::any_of(extra_args.begin(), extra_args.end(),
                  [](const std::string& a) { return absl::StartsWith(a, "--data-dir="); });
  spec.argv = {binary,
               "--listen=" + listen,
               "--control-listen=127.0.0.1:0",
               "--metrics-listen=127.0.0.1:0",
               "--node-name=" + node_name,
               "--ready-file=" + ready,
               "--memory-budget-mib=64",
               "--min-free-mib=16",
               "--log-level=warning"};
  if (!own_data_dir) {
    spec.argv.push_back("--data-dir=" + dir + "/data");
  }
  if (!socket.empty()) {
    spec.argv.push_back("--socket=" + socket);
  }
  spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
  auto process = std::unique_ptr<ServerProcess>(new ServerProcess());
  // The TLS run (tls_run.h), unless the test chose its own TLS.
  const bool own_tls = std::any_of(extra_args.begin(), extra_args.end(), [](const std::string& a) {
    return absl::StartsWith(a, "--tls-");
  });
  if (!own_tls) {
    const std::vector<std::string> tls = RunServerTlsArgs();
    spec.argv.insert(spec.argv.end(), tls.begin(), tls.end());
    process->control_tls_ = WithRunTls({});
  }
  SHUFFLE_ASSIGN_OR_RETURN(process->process_, core::Process::Spawn(spec));
  SHUFFLE_ASSIGN_OR_RETURN(process->ready_, AwaitServerReady(*process->process_, ready));
  const core::ReadyFile& r = process->ready_;
  const std::optional<core::Endpoint> data =
      r.Find(socket.empty() ? core::ReadyFile::kData : core::ReadyFile::kSocket);
  const std::optional<core::Endpoint> control = r.Find(core::ReadyFile::kControl);
  const std::optional<core::Endpoint> metrics = r.Find(core::ReadyFile::kMetrics);
  if (!data.has_value() || !control.has_value() || !metrics.has_value()) {
    return absl::InternalError(
        absl::StrCat("ready file ", ready, " lacks an address:\n", r.Format()));
  }
  process->data_address_ = data->ToString();
  process->control_address_ = control->ToString();
  process->metrics_address_ = metrics->ToString();
  return process;
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
  if (process_ != nullptr) {
    process_->Signal(SIGKILL);
    process_->Wait(std::chrono::seconds(30));
    process_.reset();
  }
}

absl::Status ServerProcess::Terminate(int timeout_ms) {
  if (process_ == nullptr) {
    return absl::OkStatus();
  }
  process_->Signal(SIGTERM);
  std::optional<core::ExitInfo> exit = process_->Wait(std::chrono::milliseconds(timeout_ms));
  if (!exit.has_value()) {
    return absl::DeadlineExceededError("shuffle-server did not exit after SIGTERM");
  }
  process_.reset();
  return exit->signal == 0 && exit->exit_code == 0
             ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("shuffle-server: ", exit->Describe()));
}

absl::StatusOr<std::string> ServerProcess::RegisterApplication(const std::string& app,
                                                               const std::string& ns,
                                                               const std::string& identity_token) {
  return Control().RegisterApplication(app, ns, identity_token);
}

absl::Status ServerProcess::RegisterShuffle(const std::string& app, uint32_t shuffle,
                                            uint32_t partitions) {
  return RegisterShuffle(app, "", shuffle, partitions);
}

absl::Status ServerProcess::RegisterShuffle(const std::string& app, const std::string& token,
                                            uint32_t shuffle, uint32_t partitions) {
  return Control().RegisterShuffle(app, token, core::ShuffleId(shuffle), /*num_maps=*/0,
                                   partitions);
}

absl::Status ServerProcess::SealShuffle(const std::string& app, uint32_t shuffle) {
  return SealShuffle(app, "", shuffle);
}

absl::Status ServerProcess::SealShuffle(const std::string& app, const std::string& token,
                                        uint32_t shuffle) {
  return Control().SealShuffle(app, token, core::ShuffleId(shuffle));
}

client::ControlClient ServerProcess::Control() const {
  return client::ControlClient(control_address_, std::chrono::seconds(30), control_tls_);
}

}  // namespace shuffle::testsupport
