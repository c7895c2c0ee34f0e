#include "shuffle/core/status_macros.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) {
    return status;
  }
  return absl::Status(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
}

}  // namespace shuffle::core
