#include "core/tls/grpc_credentials.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/files.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::tls {
namespace {

// How often gRPC's file watcher looks at the server's files (as often as the data plane does).
constexpr unsigned int kRefreshSeconds = 1;

// Reconnection after a lost connection: a node's server restarts in a fraction of a second, and
// gRPC shares one connection per address among the process's channels, so with its default (a
// first wait of 1 s, growing to 2 min) every control call to a server that has just restarted,
// including from channels made afterwards, would wait out the backoff (a driver's seal, a
// shufflectl probe). Retried sooner, and never more than a few seconds apart.
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 3000;

grpc::ChannelArguments ChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  return args;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view what) {
  auto text = core::ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("reading the TLS ", std::string(what), " '",
                                                   path,
                                                   "': ", std::string(text.status().message())));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const ServerFiles& files) {
  if (!files.enabled()) {
    return grpc::InsecureServerCredentials();
  }
  SHUFFLE_RETURN_IF_ERROR(Validate(files));
  SHUFFLE_RETURN_IF_ERROR(NewServerContext(files).status());  // names a bad file now
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewGrpcChannel(const std::string& address,
                                                              const ClientFiles& files) {
  grpc::ChannelArguments args = ChannelArguments();
  if (!files.enabled()) {
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  SHUFFLE_RETURN_IF_ERROR(Validate(files));
  SHUFFLE_RETURN_IF_ERROR(NewClientContext(files).status());  // names a bad file now
  grpc::SslCredentialsOptions ssl;
  SHUFFLE_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(files.ca_file, "CA bundle"));
  if (!files.cert_file.empty()) {
    SHUFFLE_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(files.cert_file, "certificate"));
    SHUFFLE_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(files.key_file, "private key"));
  }
  if (!files.server_name.empty()) {
    args.SetSslTargetNameOverride(files.server_name);
  }
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

}  // namespace shuffle::tls
