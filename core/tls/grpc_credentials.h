// gRPC credentials from the same PEM files as the data plane's TLS (tls_context.h): the control
// plane's server credentials, which follow rotations of the files on disk, and the channels that
// clients (shufflectl, drivers, the client library, peer servers) open to it.
//
// Thread-safety: the functions are thread-safe.
#ifndef SHUFFLE_CORE_TLS_GRPC_CREDENTIALS_H_
#define SHUFFLE_CORE_TLS_GRPC_CREDENTIALS_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "core/tls/tls_context.h"

namespace shuffle::tls {

// Plaintext credentials when `files` is not enabled. Otherwise TLS (1.2 or newer): gRPC's file
// watcher looks at the files once a second and later handshakes get what it read (a key that does
// not match its certificate yet, mid-rotation, keeps the previous pair); with client_ca_file, a
// client certificate signed by it is required. The files are loaded once here, so a missing or
// mismatched one fails at start naming it, not at each handshake.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const ServerFiles& files);

// A channel to `address` ("host:port"): plaintext when `files` is not enabled, else TLS with the
// server's certificate checked against ca_file and the host dialled (or server_name), presenting
// cert_file/key_file when given. The files are read once, here: INVALID_ARGUMENT naming a file
// that cannot be read or parsed. A lost connection is tried again after 100 ms, then at most 3 s
// apart (gRPC's default starts at 1 s), so a call to a server that has just restarted does not
// wait out a backoff.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewGrpcChannel(const std::string& address,
                                                              const ClientFiles& files);

}  // namespace shuffle::tls

#endif  // SHUFFLE_CORE_TLS_GRPC_CREDENTIALS_H_
