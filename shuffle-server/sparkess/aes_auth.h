// The server side of Spark's AES-based authentication (spark.network.crypto.enabled; Spark's
// AuthRpcHandler, AuthEngine and CtrTransportCipher): the client sends an AuthMessage (tag 0xFB,
// application id, salt, and its ephemeral X25519 public key encrypted with AES-GCM under a key
// HKDF-derived from the application's secret); the server answers with its own, both derive the
// X25519 shared secret and, from it and the transcript, the session key and two IVs; every byte
// after the answer is AES-CTR encrypted, each direction with its own IV. `engine_version` is
// spark.network.crypto.authEngineVersion (1, Spark's default, uses the shared secret itself as
// the AES-256 key; 2 derives an AES-128 key with HKDF). Spark's AES-GCM transport cipher
// (spark.network.crypto.cipher=AES/GCM/NoPadding) is not implemented. OpenSSL does the crypto.
#ifndef SHUFFLE_SERVER_SPARKESS_AES_AUTH_H_
#define SHUFFLE_SERVER_SPARKESS_AES_AUTH_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "shuffle-server/sparkess/auth.h"

namespace shuffle::sparkess {

absl::StatusOr<std::unique_ptr<ServerHandshake>> StartAesHandshake(const SecretSource& secrets,
                                                                   int engine_version);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_AES_AUTH_H_
