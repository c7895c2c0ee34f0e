#include "shuffle-server/sparkess/sasl.h"

namespace shuffle::sparkess {

absl::StatusOr<std::unique_ptr<ServerHandshake>> StartSaslHandshake(std::string_view,
                                                                    const SecretSource&) {
  return absl::UnimplementedError("SASL is not implemented yet");
}

}  // namespace shuffle::sparkess
