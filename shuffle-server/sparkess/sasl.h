// The server side of Spark's SASL authentication (spark.authenticate without
// spark.network.crypto.enabled, Spark's SaslRpcHandler and SparkSaslServer): DIGEST-MD5 over
// SaslMessage RPCs (tag 0xEA, the application id, the SASL token), user "sparkSaslUser" and
// password the application's secret, both base64-encoded as Spark does, realm "default", quality
// of protection "auth" (SASL encryption, spark.authenticate.enableSaslEncryption, is refused).
// The mechanism itself is Cyrus SASL's DIGEST-MD5 plugin. A handshake belongs to one connection.
#ifndef SHUFFLE_SERVER_SPARKESS_SASL_H_
#define SHUFFLE_SERVER_SPARKESS_SASL_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "shuffle-server/sparkess/auth.h"

namespace shuffle::sparkess {

absl::StatusOr<std::unique_ptr<ServerHandshake>> StartSaslHandshake(std::string_view first_body,
                                                                    const SecretSource& secrets);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_SASL_H_
