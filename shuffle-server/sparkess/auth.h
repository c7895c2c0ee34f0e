// Authentication of Spark clients (spark.authenticate): where application secrets come from,
// and the server side of the handshakes a Spark client starts with its first RPCs, told apart
// by their first byte: 0xEA a SaslMessage (SASL DIGEST-MD5, Spark's SaslRpcHandler), 0xFB an
// AuthMessage (the AES-based handshake of spark.network.crypto.enabled, Spark's AuthRpcHandler).
// After a handshake the connection belongs to its application: any request naming another is
// refused.
//
// SecretSource implementations are thread-safe; a handshake belongs to one connection.
#ifndef SHUFFLE_SERVER_SPARKESS_AUTH_H_
#define SHUFFLE_SERVER_SPARKESS_AUTH_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shuffle::sparkess {

class SecretSource {
 public:
  virtual ~SecretSource() = default;
  // The application's secret (spark.authenticate.secret); nullopt when it has none here.
  virtual std::optional<std::string> SecretOf(const std::string& app_id) const = 0;
};

// Secrets from files: `<dir>/<app id>` when `dir` is set and that file exists (ids with '/' or
// starting with '.' never match), else the one `file` every application shares; either may be
// empty. A trailing newline is not part of a secret. Read at each handshake, so secrets can be
// added without a restart.
std::unique_ptr<SecretSource> FileSecretSource(std::string file, std::string dir);

// Encrypts and decrypts a connection's bytes, in place, after a handshake that negotiated
// encryption (a stream cipher: any split of the bytes gives the same result).
class TransportCipher {
 public:
  virtual ~TransportCipher() = default;
  virtual void Encrypt(char* data, size_t n) = 0;
  virtual void Decrypt(char* data, size_t n) = 0;
};

// The server side of one handshake.
class ServerHandshake {
 public:
  virtual ~ServerHandshake() = default;
  // Handles one RPC body of the handshake; returns the reply body. An error is sent as an
  // RpcFailure and the connection is closed.
  virtual absl::StatusOr<std::string> Step(std::string_view rpc_body) = 0;
  virtual bool done() const = 0;
  // The authenticated application. REQUIRES: done().
  virtual const std::string& app_id() const = 0;
  virtual std::unique_ptr<TransportCipher> TakeCipher() { return nullptr; }
};

// The handshake a client's first RPC body starts; UNAUTHENTICATED when it starts none (a client
// without spark.authenticate), PERMISSION_DENIED for an application without a secret here.
// `aes_engine_version`: spark.network.crypto.authEngineVersion of the clients (1 or 2).
absl::StatusOr<std::unique_ptr<ServerHandshake>> StartHandshake(std::string_view first_body,
                                                                const SecretSource& secrets,
                                                                int aes_engine_version);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_AUTH_H_
