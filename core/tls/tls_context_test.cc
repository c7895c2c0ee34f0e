#include "core/tls/tls_context.h"

#include <unistd.h>

#include <cerrno>
#include <thread>

#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace shuffle::tls {
namespace {

using ::testing::HasSubstr;
using testsupport::IssuedCertificate;
using testsupport::TempDir;
using testsupport::TestPki;

// One handshake over a socket pair: the server side runs SSL_accept on a thread, the client
// side ClientHandshake. Returns the client's result; `server_ok` says whether the server
// accepted.
struct HandshakeResult {
  absl::Status client;
  bool server_ok = false;
  std::string server_error;
};

HandshakeResult Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const ClientFiles& files,
                          const std::string& host) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  for (int fd : fds) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  HandshakeResult result;
  std::thread server([&] {
    SslPtr ssl(SSL_new(server_ctx));
    SSL_set_fd(ssl.get(), fds[1]);
    result.server_ok = SSL_accept(ssl.get()) == 1;
    if (result.server_ok) {
      char byte = 0;
      result.server_ok = SSL_read(ssl.get(), &byte, 1) == 1 && byte == 'x';
    } else {
      result.server_error = DrainOpenSslErrors();
    }
    close(fds[1]);
  });
  absl::StatusOr<SslPtr> ssl = ClientHandshake(fds[0], client_ctx, files, host, "test-server");
  result.client = ssl.status();
  if (ssl.ok()) {
    // Not checked here: under TLS 1.3 the client finishes its handshake before the server has
    // judged the client's certificate, so when the server refuses, this write races the
    // server's alert and close. A handshake the test expects to succeed checks `server_ok`,
    // which holds only when the server read this byte.
    SSL_write(ssl->get(), "x", 1);
  }
  server.join();
  close(fds[0]);
  return result;
}

ServerFiles Server(std::string cert, std::string key, std::string client_ca = "") {
  ServerFiles files;
  files.cert_file = std::move(cert);
  files.key_file = std::move(key);
  files.client_ca_file = std::move(client_ca);
  return files;
}

ClientFiles Client(std::string ca, std::string cert = "", std::string key = "") {
  ClientFiles files;
  files.ca_file = std::move(ca);
  files.cert_file = std::move(cert);
  files.key_file = std::move(key);
  return files;
}

class TlsContextTest : public ::testing::Test {
 protected:
  TempDir dir_{"tls-test-"};
  TestPki pki_{dir_.path()};
  IssuedCertificate server_ = pki_.Issue("server", {"shuffle.test", "127.0.0.1"});
  ServerFiles server_files_ = Server(server_.cert_file, server_.key_file);
  ClientFiles client_files_ = Client(pki_.ca_file());
};

TEST_F(TlsContextTest, ValidateNamesTheMissingHalf) {
  EXPECT_THAT(Validate(Server("c", "")).message(), HasSubstr("--tls-key-file"));
  EXPECT_THAT(Validate(Server("", "k")).message(), HasSubstr("--tls-cert-file"));
  EXPECT_FALSE(Validate(Server("", "", "ca")).ok());
  EXPECT_TRUE(Validate(ServerFiles{}).ok());
  EXPECT_FALSE(Validate(Client("ca", "c")).ok());
  EXPECT_FALSE(Validate(Client("", "c", "k")).ok());
  EXPECT_TRUE(Validate(Client("ca", "c", "k")).ok());
}

TEST_F(TlsContextTest, LoadErrorsNameTheFile) {
  absl::StatusOr<SslCtxPtr> missing =
      NewServerContext(Server(dir_.Sub("absent.crt"), server_.key_file));
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.crt"));
  const IssuedCertificate other = pki_.Issue("other", {"other.test"});
  absl::StatusOr<SslCtxPtr> mismatched =
      NewServerContext(Server(server_.cert_file, other.key_file));
  EXPECT_THAT(mismatched.status().message(), HasSubstr(other.key_file));
  EXPECT_THAT(mismatched.status().message(), HasSubstr("mismatch"));
  EXPECT_THAT(NewClientContext(Client(dir_.Write("junk.pem", "junk"))).status().message(),
              HasSubstr("junk.pem"));
}

TEST_F(TlsContextTest, ClientAcceptsTheRightServerByNameAndByAddress) {
  absl::StatusOr<SslCtxPtr> server = NewServerContext(server_files_);
  absl::StatusOr<SslCtxPtr> client = NewClientContext(client_files_);
  ASSERT_TRUE(server.ok() && client.ok());
  for (const std::string host : {"shuffle.test", "127.0.0.1"}) {
    HandshakeResult r = Handshake(server->get(), client->get(), client_files_, host);
    EXPECT_TRUE(r.client.ok()) << host << ": " << r.client;
    EXPECT_TRUE(r.server_ok) << r.server_error;
  }
}

TEST_F(TlsContextTest, ClientRefusesAWrongHostName) {
  absl::StatusOr<SslCtxPtr> server = NewServerContext(server_files_);
  absl::StatusOr<SslCtxPtr> client = NewClientContext(client_files_);
  HandshakeResult r = Handshake(server->get(), client->get(), client_files_, "elsewhere.test");
  EXPECT_EQ(r.client.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.client.message(), HasSubstr("hostname mismatch"));
  EXPECT_THAT(r.client.message(), HasSubstr("elsewhere.test"));
  EXPECT_FALSE(r.server_ok);
  // The name to check may be given apart from the address dialled.
  ClientFiles named = client_files_;
  named.server_name = "shuffle.test";
  EXPECT_TRUE(Handshake(server->get(), client->get(), named, "10.1.2.3").client.ok());
}

TEST_F(TlsContextTest, ClientRefusesACertificateOfAnotherCaOrExpired) {
  TempDir other_dir("tls-other-");
  TestPki other(other_dir.path(), "other-ca");
  const IssuedCertificate foreign = other.Issue("server", {"shuffle.test"});
  absl::StatusOr<SslCtxPtr> server = NewServerContext(Server(foreign.cert_file, foreign.key_file));
  absl::StatusOr<SslCtxPtr> client = NewClientContext(client_files_);
  HandshakeResult r = Handshake(server->get(), client->get(), client_files_, "shuffle.test");
  EXPECT_THAT(r.client.message(), HasSubstr("unable to get local issuer certificate"));

  const IssuedCertificate expired = pki_.Issue("expired", {"shuffle.test"}, /*expired=*/true);
  server = NewServerContext(Server(expired.cert_file, expired.key_file));
  r = Handshake(server->get(), client->get(), client_files_, "shuffle.test");
  EXPECT_THAT(r.client.message(), HasSubstr("certificate has expired"));
}

TEST_F(TlsContextTest, ServerRefusesTls10AndTls11) {
  absl::StatusOr<SslCtxPtr> server = NewServerContext(server_files_);
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    // A client that offers nothing newer, with the security level that allows old versions.
    SslCtxPtr old(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    SSL_CTX_set_security_level(old.get(), 0);
    SSL_CTX_set_min_proto_version(old.get(), version);
    SSL_CTX_set_max_proto_version(old.get(), version);
    SSL_CTX_load_verify_locations(old.get(), pki_.ca_file().c_str(), nullptr);
    HandshakeResult r = Handshake(server->get(), old.get(), client_files_, "shuffle.test");
    EXPECT_FALSE(r.client.ok()) << version;
    EXPECT_FALSE(r.server_ok);
    EXPECT_THAT(r.server_error, HasSubstr("unsupported protocol")) << version;
  }
}

TEST_F(TlsContextTest, MutualTlsRequiresAClientCertificateOfTheClientCa) {
  ServerFiles mutual = server_files_;
  mutual.client_ca_file = pki_.ca_file();
  absl::StatusOr<SslCtxPtr> server = NewServerContext(mutual);
  ASSERT_TRUE(server.ok()) << server.status();

  absl::StatusOr<SslCtxPtr> anonymous = NewClientContext(client_files_);
  HandshakeResult r = Handshake(server->get(), anonymous->get(), client_files_, "shuffle.test");
  EXPECT_FALSE(r.server_ok);
  EXPECT_THAT(r.server_error, HasSubstr("peer did not return a certificate"));

  const IssuedCertificate peer = pki_.Issue("peer", {"peer.test"});
  ClientFiles with_cert = client_files_;
  with_cert.cert_file = peer.cert_file;
  with_cert.key_file = peer.key_file;
  absl::StatusOr<SslCtxPtr> client = NewClientContext(with_cert);
  ASSERT_TRUE(client.ok()) << client.status();
  r = Handshake(server->get(), client->get(), with_cert, "shuffle.test");
  EXPECT_TRUE(r.client.ok()) << r.client;
  EXPECT_TRUE(r.server_ok) << r.server_error;
}

// A client writing to a server that has gone gets an error, not SIGPIPE (which would kill this
// process: the test runs with SIGPIPE's default disposition).
TEST_F(TlsContextTest, AWriteToAClosedConnectionFailsWithoutSigpipe) {
  absl::StatusOr<SslCtxPtr> server = NewServerContext(server_files_);
  absl::StatusOr<SslCtxPtr> client = NewClientContext(client_files_);
  ASSERT_TRUE(server.ok() && client.ok());
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::thread peer([&] {
    SslPtr ssl(SSL_new(server->get()));
    SSL_set_fd(ssl.get(), fds[1]);
    EXPECT_EQ(SSL_accept(ssl.get()), 1);
    close(fds[1]);  // gone without a word
  });
  absl::StatusOr<SslPtr> ssl =
      ClientHandshake(fds[0], client->get(), client_files_, "shuffle.test", "test-server");
  peer.join();
  ASSERT_TRUE(ssl.ok()) << ssl.status();
  const std::string chunk(16 << 10, 'x');
  int written = 1;
  for (int i = 0; i < 100 && written > 0; ++i) {
    written = SSL_write(ssl->get(), chunk.data(), static_cast<int>(chunk.size()));
  }
  EXPECT_LE(written, 0);
  EXPECT_EQ(SSL_get_error(ssl->get(), written), SSL_ERROR_SYSCALL);
  EXPECT_EQ(errno, EPIPE);
  ERR_clear_error();
  close(fds[0]);
}

TEST_F(TlsContextTest, ReloadingContextFollowsARotationAndSurvivesAHalfWrittenOne) {
  absl::StatusOr<std::unique_ptr<ReloadingServerContext>> reloading =
      ReloadingServerContext::Create(server_files_, absl::ZeroDuration());
  ASSERT_TRUE(reloading.ok()) << reloading.status();
  const SslCtxPtr first = (*reloading)->Current();
  EXPECT_EQ((*reloading)->Current(), first);  // unchanged files: the same context

  pki_.Issue("server", {"rotated.test"});  // same paths, new files
  const SslCtxPtr second = (*reloading)->Current();
  EXPECT_NE(second, first);
  EXPECT_EQ((*reloading)->reloads(), 1u);
  absl::StatusOr<SslCtxPtr> client = NewClientContext(client_files_);
  EXPECT_TRUE(Handshake(second.get(), client->get(), client_files_, "rotated.test").client.ok());
  // The old context still serves its connections.
  EXPECT_TRUE(Handshake(first.get(), client->get(), client_files_, "shuffle.test").client.ok());

  dir_.Write("server.crt", "-----BEGIN CERTIFICATE-----\ncut sho");
  EXPECT_EQ((*reloading)->Current(), second);
  EXPECT_EQ((*reloading)->reload_failures(), 1u);
}

TEST_F(TlsContextTest, SharedClientContextIsBuiltOncePerFiles) {
  absl::StatusOr<SslCtxPtr> a = SharedClientContext(client_files_);
  absl::StatusOr<SslCtxPtr> b = SharedClientContext(client_files_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(SharedClientContext(Client(dir_.Sub("absent.pem"))).ok());
}

}  // namespace
}  // namespace shuffle::tls
