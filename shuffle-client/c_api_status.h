// How the C ABI (shuffle_client_c.h) reports a status: its code as the return value and, when
// the caller passed one, in `err` with the message (cut to fit). Thread-safe.
#ifndef SHUFFLE_CLIENT_C_API_STATUS_H_
#define SHUFFLE_CLIENT_C_API_STATUS_H_

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "shuffle/client/shuffle_client_c.h"

namespace shuffle::client {

inline int ReportToC(const absl::Status& st, shuffle_error* err) {
  if (err != nullptr) {
    err->code = static_cast<int>(st.code());
    const std::string message(st.message());
    std::strncpy(err->message, message.c_str(), sizeof(err->message) - 1);
    err->message[sizeof(err->message) - 1] = '\0';
  }
  return static_cast<int>(st.code());
}

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_C_API_STATUS_H_
