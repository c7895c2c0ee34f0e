// TLS for the service's TCP planes, on OpenSSL: the server's and the client's SSL_CTX built from
// PEM files (TLS 1.2 or newer only, peers verified, optional client certificates for mutual TLS),
// a server context that reloads itself when its files change on disk (a Kubernetes Secret
// updated by cert-manager), and the client's blocking handshake with host-name checking.
//
// Connections keep the context they started with, so a rotation never disturbs a transfer in
// progress: only connections accepted after it see the new certificate.
//
// Thread-safety: the functions are thread-safe; ReloadingServerContext::Current() may be called
// from any thread.
#ifndef SHUFFLE_CORE_TLS_TLS_CONTEXT_H_
#define SHUFFLE_CORE_TLS_TLS_CONTEXT_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace shuffle::tls {

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// What a TLS server presents and whom it accepts. Empty cert_file: TLS is off.
struct ServerFiles {
  std::string cert_file;  // PEM: the server's certificate, then its chain
  std::string key_file;   // PEM private key of that certificate
  // PEM CA bundle: when set, a client must present a certificate it signed (mutual TLS).
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

// How a TLS client checks servers and what it presents. Empty ca_file: TLS is off.
struct ClientFiles {
  std::string ca_file;    // PEM CA bundle the servers' certificates must chain to
  std::string cert_file;  // optional client certificate (mutual TLS), with key_file
  std::string key_file;
  // The name the server's certificate must carry; empty: the host of the address dialled.
  std::string server_name;

  bool enabled() const { return !ca_file.empty(); }
};

// Certificate and key given together or not at all, and no client CA without a certificate:
// INVALID_ARGUMENT saying which file is missing.
absl::Status Validate(const ServerFiles& files);
absl::Status Validate(const ClientFiles& files);

// Loads the files into a new context; errors name the file and OpenSSL's reason.
absl::StatusOr<SslCtxPtr> NewServerContext(const ServerFiles& files);
absl::StatusOr<SslCtxPtr> NewClientContext(const ClientFiles& files);

// The calling thread's OpenSSL error queue as text (emptied), or `fallback` when it is empty.
std::string DrainOpenSslErrors(std::string_view fallback = "unknown TLS error");

// What tells a file rewritten on disk from the one loaded: its inode, size and modification time
// (a missing file: the defaults). Symbolic links are followed, as a Secret volume's are.
struct FileStamp {
  uint64_t inode = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
// The stamps of `paths`, in order; an empty path gets the defaults.
std::vector<FileStamp> StampFiles(std::initializer_list<const std::string*> paths);

// A server context that follows its files: Current() looks at their identity (inode, size,
// modification time) at most once per `check_interval` and, when one changed, loads them again.
// A load that fails (a rotation caught half-written) keeps the previous context and is retried
// at the next check.
class ReloadingServerContext {
 public:
  static absl::StatusOr<std::unique_ptr<ReloadingServerContext>> Create(
      const ServerFiles& files, absl::Duration check_interval = absl::Seconds(1));

  SslCtxPtr Current() ABSL_LOCKS_EXCLUDED(mu_);

  const ServerFiles& files() const { return files_; }
  uint64_t reloads() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t reload_failures() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ReloadingServerContext(const ServerFiles& files, absl::Duration check_interval);
  std::vector<FileStamp> Identify() const;

  const ServerFiles files_;
  const absl::Duration check_interval_;
  mutable absl::Mutex mu_;
  SslCtxPtr current_ ABSL_GUARDED_BY(mu_);
  std::vector<FileStamp> loaded_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  uint64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reload_failures_ ABSL_GUARDED_BY(mu_) = 0;
};

// The client context for `files`, built once per process and shared (rebuilt when the files
// change, so a rotated CA bundle is picked up by later connections).
absl::StatusOr<SslCtxPtr> SharedClientContext(const ClientFiles& files);

// Runs a client handshake on the connected blocking socket `fd` (its SO_RCVTIMEO/SO_SNDTIMEO
// bound the handshake) and checks that the server's certificate is valid for `host` (a DNS name
// or an IP address literal; files.server_name overrides it). Errors name `address` and the reason:
// FAILED_PRECONDITION when the server's certificate does not check out (unknown CA, wrong host,
// expired: retrying will not help), UNAVAILABLE when the handshake itself failed (the server
// closed the connection, refused the protocol version or this client's certificate).
absl::StatusOr<SslPtr> ClientHandshake(int fd, SSL_CTX* ctx, const ClientFiles& files,
                                       const std::string& host, const std::string& address);

}  // namespace shuffle::tls

#endif  // SHUFFLE_CORE_TLS_TLS_CONTEXT_H_
