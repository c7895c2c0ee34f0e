#include "tests/support/tls_run.h"

#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace shuffle::testsupport {
namespace {

// The run's certificate authority and the servers' certificate, made once per process; the
// directory goes when the process exits.
struct RunPki {
  TempDir dir{"shuffle-tls-run-"};
  TestPki pki{dir.path()};
  IssuedCertificate server = pki.Issue("server", {"127.0.0.1", "localhost"});
};

const RunPki& Pki() {
  static auto* mu = new absl::Mutex();
  static auto* made = new std::unique_ptr<RunPki>();
  absl::MutexLock lock(mu);
  if (*made == nullptr) {
    *made = std::make_unique<RunPki>();
    // Removed at exit (a static's destructor would race with threads still running then).
    std::atexit([] { made->reset(); });
  }
  return **made;
}

}  // namespace

bool TlsRun() {
  const char* v = std::getenv(kTlsRunVariable);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

tls::ServerFiles RunServerTls() {
  if (!TlsRun()) {
    return {};
  }
  return tls::ServerFiles{.cert_file = Pki().server.cert_file, .key_file = Pki().server.key_file};
}

std::string RunCaFile() { return TlsRun() ? Pki().pki.ca_file() : ""; }

tls::ClientFiles RunClientTls() { return tls::ClientFiles{.ca_file = RunCaFile()}; }

client::ClientOptions WithRunTls(client::ClientOptions options) {
  if (options.tls_ca_file.empty()) {
    options.tls_ca_file = RunCaFile();
  }
  return options;
}

std::vector<std::string> RunServerTlsArgs() {
  if (!TlsRun()) {
    return {};
  }
  return {"--tls-cert-file=" + Pki().server.cert_file, "--tls-key-file=" + Pki().server.key_file,
          "--tls-ca-file=" + RunCaFile()};
}

std::vector<std::string> RunCtlTlsArgs(const std::string& server_name) {
  if (!TlsRun()) {
    return {};
  }
  std::vector<std::string> args = {"--tls-ca-file=" + RunCaFile()};
  if (!server_name.empty()) {
    args.push_back("--tls-server-name=" + server_name);
  }
  return args;
}

}  // namespace shuffle::testsupport
