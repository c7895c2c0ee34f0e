// What the C ABI's files (shuffle_client_c.h: c_api.cc, c_api_control.cc) share: how a status is
// reported, and how a shuffle_options becomes the library's ClientOptions. Thread-safe.
#ifndef SHUFFLE_CLIENT_C_API_INTERNAL_H_
#define SHUFFLE_CLIENT_C_API_INTERNAL_H_

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "shuffle/client/options.h"
#include "shuffle/client/shuffle_client_c.h"

namespace shuffle::client {

// Its code as the return value and, when the caller passed one, in `err` with the message (cut
// to fit).
inline int ReportToC(const absl::Status& st, shuffle_error* err) {
  if (err != nullptr) {
    err->code = static_cast<int>(st.code());
    const std::string message(st.message());
    std::strncpy(err->message, message.c_str(), sizeof(err->message) - 1);
    err->message[sizeof(err->message) - 1] = '\0';
  }
  return static_cast<int>(st.code());
}

// The library's defaults overridden by `options` (NULL: the defaults); `server` is left empty.
ClientOptions FromC(const shuffle_options* options);

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_C_API_INTERNAL_H_
