// Bridges std::string_view (used in the project's APIs) and absl::string_view, which Debian's
// abseil builds as a separate type (ABSL_OPTION_USE_STD_STRING_VIEW is 0), so absl::StrCat and
// friends do not accept std::string_view directly. Pure functions.
#ifndef SHUFFLE_CORE_STRINGS_H_
#define SHUFFLE_CORE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace shuffle::core {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view FromAbsl(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_STRINGS_H_
