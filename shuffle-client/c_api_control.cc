// The C ABI (shuffle_client_c.h) over ControlClient: the driver's control-plane calls, plaintext
// or, with a shuffle_options naming a CA (its tls_* fields), through TLS.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shuffle-client/c_api_internal.h"
#include "shuffle/client/control_client.h"
#include "shuffle/client/shuffle_client_c.h"

namespace {

using shuffle::client::ControlClient;

int Report(const absl::Status& st, shuffle_error* err) {
  return shuffle::client::ReportToC(st, err);
}

// Null strings count as empty; a missing address or app id is an error.
std::string Str(const char* s) { return s != nullptr ? s : ""; }

bool Missing(const char* address, const char* app_id, const char* call, shuffle_error* err) {
  if (address == nullptr || *address == '\0' || app_id == nullptr || *app_id == '\0') {
    Report(absl::InvalidArgumentError(std::string(call) +
                                      ": the control address and the app id are required"),
           err);
    return true;
  }
  return false;
}

ControlClient Client(const char* address, const shuffle_options* options, int64_t timeout_ms) {
  return ControlClient(
      address,
      timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms) : ControlClient::kDefaultCallTimeout,
      shuffle::client::FromC(options));
}

}  // namespace

extern "C" {

int shuffle_control_register_application(const char* control_address, const char* app_id,
                                         const char* namespace_name, const char* identity_token,
                                         int64_t timeout_ms, char** token, shuffle_error* err) {
  return shuffle_control_register_application_with_options(
      control_address, nullptr, app_id, namespace_name, identity_token, timeout_ms, token, err);
}

int shuffle_control_register_application_with_options(
    const char* control_address, const shuffle_options* options, const char* app_id,
    const char* namespace_name, const char* identity_token, int64_t timeout_ms, char** token,
    shuffle_error* err) {
  if (Missing(control_address, app_id, "shuffle_control_register_application", err)) {
    return err != nullptr ? err->code : static_cast<int>(absl::StatusCode::kInvalidArgument);
  }
  if (token == nullptr) {
    return Report(absl::InvalidArgumentError("shuffle_control_register_application: token is null"),
                  err);
  }
  absl::StatusOr<std::string> issued =
      Client(control_address, options, timeout_ms)
          .RegisterApplication(app_id, Str(namespace_name), Str(identity_token));
  if (!issued.ok()) {
    return Report(issued.status(), err);
  }
  *token = static_cast<char*>(std::malloc(issued->size() + 1));
  std::memcpy(*token, issued->c_str(), issued->size() + 1);
  return 0;
}

int shuffle_control_register_shuffle(const char* control_address, const char* app_id,
                                     const char* token, uint32_t shuffle_id, uint32_t num_maps,
                                     uint32_t num_partitions, int64_t timeout_ms,
                                     shuffle_error* err) {
  return shuffle_control_register_shuffle_with_options(control_address, nullptr, app_id, token,
                                                       shuffle_id, num_maps, num_partitions,
                                                       timeout_ms, err);
}

int shuffle_control_register_shuffle_with_options(const char* control_address,
                                                  const shuffle_options* options,
                                                  const char* app_id, const char* token,
                                                  uint32_t shuffle_id, uint32_t num_maps,
                                                  uint32_t num_partitions, int64_t timeout_ms,
                                                  shuffle_error* err) {
  if (Missing(control_address, app_id, "shuffle_control_register_shuffle", err)) {
    return err != nullptr ? err->code : static_cast<int>(absl::StatusCode::kInvalidArgument);
  }
  return Report(Client(control_address, options, timeout_ms)
                    .RegisterShuffle(app_id, Str(token), shuffle::core::ShuffleId(shuffle_id),
                                     num_maps, num_partitions),
                err);
}

int shuffle_control_seal_shuffle(const char* control_address, const char* app_id, const char* token,
                                 uint32_t shuffle_id, int64_t timeout_ms, shuffle_error* err) {
  return shuffle_control_seal_shuffle_with_options(control_address, nullptr, app_id, token,
                                                   shuffle_id, timeout_ms, err);
}

int shuffle_control_seal_shuffle_with_options(const char* control_address,
                                              const shuffle_options* options, const char* app_id,
                                              const char* token, uint32_t shuffle_id,
                                              int64_t timeout_ms, shuffle_error* err) {
  if (Missing(control_address, app_id, "shuffle_control_seal_shuffle", err)) {
    return err != nullptr ? err->code : static_cast<int>(absl::StatusCode::kInvalidArgument);
  }
  return Report(Client(control_address, options, timeout_ms)
                    .SealShuffle(app_id, Str(token), shuffle::core::ShuffleId(shuffle_id)),
                err);
}

int shuffle_control_remove_shuffle(const char* control_address, const char* app_id,
                                   const char* token, uint32_t shuffle_id, int64_t timeout_ms,
                                   uint64_t* freed_bytes, shuffle_error* err) {
  return shuffle_control_remove_shuffle_with_options(control_address, nullptr, app_id, token,
                                                     shuffle_id, timeout_ms, freed_bytes, err);
}

int shuffle_control_remove_shuffle_with_options(const char* control_address,
                                                const shuffle_options* options, const char* app_id,
                                                const char* token, uint32_t shuffle_id,
                                                int64_t timeout_ms, uint64_t* freed_bytes,
                                                shuffle_error* err) {
  if (Missing(control_address, app_id, "shuffle_control_remove_shuffle", err)) {
    return err != nullptr ? err->code : static_cast<int>(absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<uint64_t> freed =
      Client(control_address, options, timeout_ms)
          .RemoveShuffle(app_id, Str(token), shuffle::core::ShuffleId(shuffle_id));
  if (freed.ok() && freed_bytes != nullptr) {
    *freed_bytes = *freed;
  }
  return Report(freed.status(), err);
}

int shuffle_control_remove_application(const char* control_address, const char* app_id,
                                       const char* token, int64_t timeout_ms, uint64_t* freed_bytes,
                                       shuffle_error* err) {
  return shuffle_control_remove_application_with_options(control_address, nullptr, app_id, token,
                                                         timeout_ms, freed_bytes, err);
}

int shuffle_control_remove_application_with_options(const char* control_address,
                                                    const shuffle_options* options,
                                                    const char* app_id, const char* token,
                                                    int64_t timeout_ms, uint64_t* freed_bytes,
                                                    shuffle_error* err) {
  if (Missing(control_address, app_id, "shuffle_control_remove_application", err)) {
    return err != nullptr ? err->code : static_cast<int>(absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<uint64_t> freed =
      Client(control_address, options, timeout_ms).RemoveApplication(app_id, Str(token));
  if (freed.ok() && freed_bytes != nullptr) {
    *freed_bytes = *freed;
  }
  return Report(freed.status(), err);
}

}  // extern "C"
