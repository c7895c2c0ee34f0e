#include "core/tls/tls_context.h"

#include <cerrno>
#include <map>
#include <tuple>
#include <utility>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::tls {
namespace {

// The client's read-ahead buffer (see NewClientContext).
constexpr size_t kClientReadBuffer = 256u << 10;

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE (and kills a process that does
// not ignore it) when the peer has closed the connection. This BIO is the socket BIO with its
// writes made by send(MSG_NOSIGNAL): such a write fails with EPIPE instead.
int SendWithoutSigpipe(BIO* bio, const char* data, int len) {
  int fd = -1;
  BIO_get_fd(bio, &fd);
  errno = 0;
  const ssize_t n = ::send(fd, data, static_cast<size_t>(len), MSG_NOSIGNAL);
  BIO_clear_retry_flags(bio);
  if (n <= 0 && BIO_sock_should_retry(static_cast<int>(n)) != 0) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

BIO_METHOD* SocketWithoutSigpipe() {
  static BIO_METHOD* const method = [] {
    const BIO_METHOD* socket = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "socket without SIGPIPE");
    BIO_meth_set_write(m, SendWithoutSigpipe);
    BIO_meth_set_read(m, BIO_meth_get_read(socket));
    BIO_meth_set_puts(m, BIO_meth_get_puts(socket));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(socket));
    BIO_meth_set_create(m, BIO_meth_get_create(socket));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(socket));
    BIO_meth_set_callback_ctrl(m, BIO_meth_get_callback_ctrl(socket));
    return m;
  }();
  return method;
}

SslCtxPtr Own(SSL_CTX* ctx) {
  return SslCtxPtr(ctx, [](SSL_CTX* c) { SSL_CTX_free(c); });
}

absl::StatusOr<SslCtxPtr> NewContext(const SSL_METHOD* method) {
  SSL_CTX* raw = SSL_CTX_new(method);
  if (raw == nullptr) {
    return absl::InternalError(absl::StrCat("creating a TLS context: ", DrainOpenSslErrors()));
  }
  SslCtxPtr ctx = Own(raw);
  // TLS 1.0 and 1.1 are refused in both directions; no compression, no renegotiation.
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Partial writes let a non-blocking caller account for what went out.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_AUTO_RETRY);
  return ctx;
}

absl::Status LoadIdentity(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading the TLS certificate '", cert_file, "': ", DrainOpenSslErrors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading the TLS private key '", key_file, "': ", DrainOpenSslErrors()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the TLS private key '", key_file,
                                                   "' does not match the certificate '", cert_file,
                                                   "': ", DrainOpenSslErrors()));
  }
  return absl::OkStatus();
}

absl::Status LoadCa(SSL_CTX* ctx, const std::string& ca_file) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading the TLS CA bundle '", ca_file, "': ", DrainOpenSslErrors()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DrainOpenSslErrors(std::string_view fallback) {
  std::string text;
  while (unsigned long e = ERR_get_error()) {  // NOLINT(google-runtime-int): OpenSSL's type
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&text, text.empty() ? "" : "; ", buf);
  }
  return text.empty() ? std::string(fallback) : text;
}

absl::Status Validate(const ServerFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        files.cert_file.empty()
            ? "a TLS private key was given without its certificate (--tls-cert-file)"
            : "a TLS certificate was given without its private key (--tls-key-file)");
  }
  if (!files.client_ca_file.empty() && files.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "a client CA (mutual TLS) needs the server's own certificate and key as well "
        "(--tls-cert-file, --tls-key-file)");
  }
  return absl::OkStatus();
}

absl::Status Validate(const ClientFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a TLS client certificate and its private key go together: give both or neither");
  }
  if (!files.cert_file.empty() && files.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "a TLS client certificate needs the CA bundle that checks the server as well");
  }
  return absl::OkStatus();
}

absl::StatusOr<SslCtxPtr> NewServerContext(const ServerFiles& files) {
  SHUFFLE_RETURN_IF_ERROR(Validate(files));
  if (!files.enabled()) {
    return absl::InvalidArgumentError("TLS is off: no certificate file");
  }
  SHUFFLE_ASSIGN_OR_RETURN(SslCtxPtr ctx, NewContext(TLS_server_method()));
  SHUFFLE_RETURN_IF_ERROR(LoadIdentity(ctx.get(), files.cert_file, files.key_file));
  if (!files.client_ca_file.empty()) {
    SHUFFLE_RETURN_IF_ERROR(LoadCa(ctx.get(), files.client_ca_file));
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names != nullptr) {
      SSL_CTX_set_client_CA_list(ctx.get(), names);  // takes ownership
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // Sessions are not resumed: every connection shows the certificate of the moment.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  return ctx;
}

absl::StatusOr<SslCtxPtr> NewClientContext(const ClientFiles& files) {
  SHUFFLE_RETURN_IF_ERROR(Validate(files));
  if (!files.enabled()) {
    return absl::InvalidArgumentError("TLS is off: no CA file");
  }
  SHUFFLE_ASSIGN_OR_RETURN(SslCtxPtr ctx, NewContext(TLS_client_method()));
  SHUFFLE_RETURN_IF_ERROR(LoadCa(ctx.get(), files.ca_file));
  if (!files.cert_file.empty()) {
    SHUFFLE_RETURN_IF_ERROR(LoadIdentity(ctx.get(), files.cert_file, files.key_file));
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // Fetch payloads arrive as long runs of records: read ahead into a large buffer, so one
  // recv() brings many records instead of one each.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  SSL_CTX_set_default_read_buffer_len(ctx.get(), kClientReadBuffer);
  return ctx;
}

// ---- ReloadingServerContext -------------------------------------------------------------

ReloadingServerContext::ReloadingServerContext(const ServerFiles& files,
                                               absl::Duration check_interval)
    : files_(files), check_interval_(check_interval) {}

absl::StatusOr<std::unique_ptr<ReloadingServerContext>> ReloadingServerContext::Create(
    const ServerFiles& files, absl::Duration check_interval) {
  std::unique_ptr<ReloadingServerContext> reloading(
      new ReloadingServerContext(files, check_interval));
  std::vector<FileStamp> ids = reloading->Identify();
  SHUFFLE_ASSIGN_OR_RETURN(SslCtxPtr ctx, NewServerContext(files));
  absl::MutexLock lock(&reloading->mu_);
  reloading->current_ = std::move(ctx);
  reloading->loaded_ = std::move(ids);
  reloading->next_check_ = absl::Now() + check_interval;
  return reloading;
}

std::vector<FileStamp> StampFiles(std::initializer_list<const std::string*> paths) {
  std::vector<FileStamp> stamps;
  for (const std::string* path : paths) {
    FileStamp stamp;
    struct stat st {};
    if (!path->empty() && stat(path->c_str(), &st) == 0) {  // follows Secret volume symlinks
      stamp =
          FileStamp{.inode = st.st_ino,
                    .size = st.st_size,
                    .mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
    }
    stamps.push_back(stamp);
  }
  return stamps;
}

std::vector<FileStamp> ReloadingServerContext::Identify() const {
  return StampFiles({&files_.cert_file, &files_.key_file, &files_.client_ca_file});
}

SslCtxPtr ReloadingServerContext::Current() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() < next_check_) {
      return current_;
    }
    next_check_ = absl::Now() + check_interval_;
  }
  // One caller per interval gets here; it loads outside the lock, so others keep serving.
  std::vector<FileStamp> ids = Identify();
  {
    absl::MutexLock lock(&mu_);
    if (ids == loaded_) {
      return current_;
    }
  }
  absl::StatusOr<SslCtxPtr> fresh = NewServerContext(files_);
  absl::MutexLock lock(&mu_);
  if (!fresh.ok()) {
    ++reload_failures_;  // kept the previous one; retried at the next check
    return current_;
  }
  current_ = *std::move(fresh);
  loaded_ = std::move(ids);
  ++reloads_;
  return current_;
}

uint64_t ReloadingServerContext::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

uint64_t ReloadingServerContext::reload_failures() const {
  absl::MutexLock lock(&mu_);
  return reload_failures_;
}

// ---- Client side --------------------------------------------------------------------------

absl::StatusOr<SslCtxPtr> SharedClientContext(const ClientFiles& files) {
  struct Entry {
    std::vector<FileStamp> ids;
    SslCtxPtr ctx;
  };
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache ABSL_GUARDED_BY(mu) =
      new std::map<std::tuple<std::string, std::string, std::string>, Entry>();
  std::vector<FileStamp> ids = StampFiles({&files.ca_file, &files.cert_file, &files.key_file});
  const auto key = std::make_tuple(files.ca_file, files.cert_file, files.key_file);
  {
    absl::MutexLock lock(&mu);
    auto it = cache->find(key);
    if (it != cache->end() && it->second.ids == ids) {
      return it->second.ctx;
    }
  }
  SHUFFLE_ASSIGN_OR_RETURN(SslCtxPtr ctx, NewClientContext(files));
  absl::MutexLock lock(&mu);
  (*cache)[key] = Entry{.ids = std::move(ids), .ctx = ctx};
  return ctx;
}

absl::StatusOr<SslPtr> ClientHandshake(int fd, SSL_CTX* ctx, const ClientFiles& files,
                                       const std::string& host, const std::string& address) {
  ERR_clear_error();
  SslPtr ssl(SSL_new(ctx));
  BIO* bio = ssl != nullptr ? BIO_new(SocketWithoutSigpipe()) : nullptr;
  if (bio == nullptr) {
    return absl::InternalError(
        absl::StrCat("setting up TLS to ", address, ": ", DrainOpenSslErrors()));
  }
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl.get(), bio, bio);  // the SSL owns the BIO now
  const std::string& name = files.server_name.empty() ? host : files.server_name;
  in6_addr ip6{};
  in_addr ip4{};
  const bool is_ip =
      inet_pton(AF_INET, name.c_str(), &ip4) == 1 || inet_pton(AF_INET6, name.c_str(), &ip6) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), name.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl.get(), name.c_str());
  }
  int connected = 0;
  for (;;) {
    errno = 0;
    connected = SSL_connect(ssl.get());
    const int err = connected == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), connected);
    if (connected == 1 || errno != EINTR || err == SSL_ERROR_SSL) {
      break;  // a signal interrupting a socket call is retried, anything else is final
    }
  }
  if (connected != 1) {
    const long verify = SSL_get_verify_result(ssl.get());  // NOLINT(google-runtime-int)
    const std::string reason = DrainOpenSslErrors("the server closed the connection");
    if (verify != X509_V_OK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "TLS handshake with shuffle server ", address, ": its certificate is refused: ",
          X509_verify_cert_error_string(verify), " (checking '", name, "')"));
    }
    return absl::UnavailableError(
        absl::StrCat("TLS handshake with shuffle server ", address, " failed: ", reason));
  }
  return ssl;
}

}  // namespace shuffle::tls
