#include "driver/runner/shuffle_tier.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "shuffle/client/control_client.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::runner {

// Each call opens a client (a channel) of its own, as it always did: a server restarted on the
// same address is reached at once, not after a shared channel's reconnect backoff.

absl::StatusOr<std::string> ShuffleTier::Prepare(const std::string& control_address,
                                                 core::ShuffleId shuffle, uint32_t num_maps,
                                                 uint32_t num_partitions) const {
  const client::ControlClient control(control_address, client::ControlClient::kDefaultCallTimeout,
                                      tls_);
  std::string identity = operator_secret_;
  if (!identity_token_file_.empty()) {
    std::ifstream in(identity_token_file_);
    if (!in) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read the identity token file ",
                                                        identity_token_file_, " (registering ",
                                                        app_id_, " with ", control_address, ")"));
    }
    std::stringstream text;
    text << in.rdbuf();
    identity = std::string(absl::StripTrailingAsciiWhitespace(text.str()));
  }
  SHUFFLE_ASSIGN_OR_RETURN(std::string token,
                           control.RegisterApplication(app_id_, namespace_, identity));
  SHUFFLE_RETURN_IF_ERROR(
      control.RegisterShuffle(app_id_, token, shuffle, num_maps, num_partitions));
  return token;
}

absl::Status ShuffleTier::Seal(const std::string& control_address, const std::string& token,
                               core::ShuffleId shuffle) const {
  return client::ControlClient(control_address, client::ControlClient::kDefaultCallTimeout, tls_)
      .SealShuffle(app_id_, token, shuffle);
}

absl::Status ShuffleTier::Probe(const std::string& control_address,
                                std::chrono::milliseconds timeout) const {
  return client::ControlClient(control_address, client::ControlClient::kDefaultCallTimeout, tls_)
      .Probe(timeout);
}

absl::StatusOr<uint64_t> ShuffleTier::RemoveApplication(const std::string& control_address,
                                                        const std::string& token) const {
  return client::ControlClient(control_address, client::ControlClient::kDefaultCallTimeout, tls_)
      .RemoveApplication(app_id_, token);
}

absl::StatusOr<client::ControlClient::MovedOutputs> ShuffleTier::MovedOutputs(
    const std::string& control_address, const std::string& token,
    std::chrono::milliseconds timeout) const {
  return client::ControlClient(control_address, timeout, tls_).GetMovedOutputs(app_id_, token);
}

absl::StatusOr<client::ControlClient::Adoption> ShuffleTier::Adopt(
    const std::string& control_address, const std::string& token, const std::string& node,
    std::chrono::milliseconds timeout) const {
  return client::ControlClient(control_address, timeout, tls_).Adopt(app_id_, token, node, timeout);
}

}  // namespace shuffle::runner
