// ServerProcess: a real `shuffle-server` process on loopback for tests and benchmarks, started
// with port 0 (or a given Unix socket) through core::Process and discovered through its
// --ready-file (core::ReadyFile); SIGKILLed by PID, always, when the object dies. Also control
// calls to register and seal shuffles (the client library's ControlClient). In the TLS run of the
// integration suites (tls_run.h) the server gets the run's certificate, unless the test passes
// --tls-* flags of its own, and the control calls check it. Not thread-safe.
#ifndef SHUFFLE_TESTS_SUPPORT_SERVER_PROCESS_H_
#define SHUFFLE_TESTS_SUPPORT_SERVER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shuffle/client/control_client.h"
#include "shuffle/core/process.h"
#include "shuffle/core/ready_file.h"

namespace shuffle::testsupport {

class ServerProcess {
 public:
  // Starts the server with its data in `dir`/data (or where a --data-dir of `extra_args` says;
  // `dir` is created, the ready file is `dir`/ready) and, if `socket` is not empty, a Unix
  // socket there. Waits (bounded) until it is ready.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& binary, const std::string& dir, const std::string& node_name,
      const std::string& socket = "", const std::string& listen = "127.0.0.1:0",
      const std::vector<std::string>& extra_args = {});
  // A TCP port free on 127.0.0.1 right now (for a server that must restart on the same port).
  static uint16_t FreePort();
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:PORT" of the data plane, or "unix:PATH" when started with a socket.
  const std::string& data_address() const { return data_address_; }
  const std::string& control_address() const { return control_address_; }
  // "127.0.0.1:PORT" of /metrics and /healthz.
  const std::string& metrics_address() const { return metrics_address_; }
  // Everything the ready file said.
  const core::ReadyFile& ready() const { return ready_; }
  pid_t pid() const { return process_ != nullptr ? process_->pid() : -1; }

  void Kill();                             // SIGKILL and reap
  absl::Status Terminate(int timeout_ms);  // SIGTERM, wait for a clean exit

  // Control plane calls, through TLS once set_control_tls() named a CA (its tls_* fields; in the
  // TLS run, the run's CA unless the test passed its own --tls-* flags).
  void set_control_tls(const client::ClientOptions& tls) { control_tls_ = tls; }
  absl::Status RegisterShuffle(const std::string& app, uint32_t shuffle, uint32_t partitions);
  absl::Status SealShuffle(const std::string& app, uint32_t shuffle);
  absl::Status SealShuffle(const std::string& app, const std::string& token, uint32_t shuffle);
  // Registers an application; returns its token.
  absl::StatusOr<std::string> RegisterApplication(const std::string& app, const std::string& ns,
                                                  const std::string& identity_token);
  absl::Status RegisterShuffle(const std::string& app, const std::string& token, uint32_t shuffle,
                               uint32_t partitions);

 private:
  ServerProcess() = default;
  // A client of the control plane with a 30 s deadline per call (a fresh channel each time).
  client::ControlClient Control() const;
  std::unique_ptr<core::Process> process_;
  core::ReadyFile ready_;
  std::string data_address_;
  std::string control_address_;
  std::string metrics_address_;
  client::ClientOptions control_tls_;
};

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_SERVER_PROCESS_H_
