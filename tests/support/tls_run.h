// The TLS run of the integration suites: ctest registers every `integration` test a second time
// (name suffix "/tls", label `tls`) with SHUFFLE_TEST_TLS=1 in its environment. In that run every
// server a suite starts serves its TCP planes (data, control, /metrics) with TLS, from a
// throw-away CA made once per process, and every client, control call, shufflectl command and
// HTTP GET of the suite checks the servers against that CA. The node's Unix socket stays
// plaintext, as in production. Outside the TLS run every function here returns the plaintext
// value (an empty file name, the options unchanged), so a suite reads the same in both runs.
// Thread-safe: the files are made on first use under a lock and kept until the process exits.
#ifndef SHUFFLE_TESTS_SUPPORT_TLS_RUN_H_
#define SHUFFLE_TESTS_SUPPORT_TLS_RUN_H_

#include <string>
#include <vector>

#include "core/tls/tls_context.h"
#include "shuffle/client/options.h"

namespace shuffle::testsupport {

// The environment variable that turns the TLS run on ("1"). Programs a test starts through
// StartProgram or RunProgram (program.h) do not inherit it.
inline constexpr char kTlsRunVariable[] = "SHUFFLE_TEST_TLS";

// True when SHUFFLE_TEST_TLS is set to 1.
bool TlsRun();

// What a server presents: a certificate for 127.0.0.1 and localhost signed by the run's CA.
// Empty (TLS off) outside the TLS run.
tls::ServerFiles RunServerTls();
// The run's CA bundle, "" outside the TLS run.
std::string RunCaFile();
// What a client of the servers uses: the run's CA as ca_file; empty outside the TLS run.
tls::ClientFiles RunClientTls();

// `options` with tls_ca_file set to the run's CA when it names none (a test with TLS of its own
// keeps it).
client::ClientOptions WithRunTls(client::ClientOptions options);

// shuffle-server flags for the run's certificate (--tls-cert-file, --tls-key-file and, for the
// hand-over to its peers, --tls-ca-file); none outside the TLS run.
std::vector<std::string> RunServerTlsArgs();
// shufflectl's flags for the run's CA (--tls-ca-file and, when `server_name` is set, the name
// the certificate is checked for, --tls-server-name); none outside the TLS run.
std::vector<std::string> RunCtlTlsArgs(const std::string& server_name = "");

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_TLS_RUN_H_
