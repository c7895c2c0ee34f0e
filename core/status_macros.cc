#include "shuffle/core/status_macros.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) {
    return status;
  }
  absl::Status annotated(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
  status.ForEachPayload([&annotated](absl::string_view type_url, const absl::Cord& payload) {
    annotated.SetPayload(type_url, payload);
  });
  return annotated;
}

}  // namespace shuffle::core
