// Early-return helpers for absl::Status and absl::StatusOr<T>. Debian's abseil (20220623) has no
// public equivalents, so the project defines its own, namespaced SHUFFLE_*.
//
//   SHUFFLE_RETURN_IF_ERROR(file.Sync());
//   SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<Segment> segment, Segment::Open(path));
//   SHUFFLE_ASSIGN_OR_RETURN(auto [a, b], Pair());   // not supported: use a named variable
#ifndef SHUFFLE_CORE_STATUS_MACROS_H_
#define SHUFFLE_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SHUFFLE_RETURN_IF_ERROR(expr)                \
  do {                                               \
    ::absl::Status shuffle_status_ = (expr);         \
    if (ABSL_PREDICT_FALSE(!shuffle_status_.ok())) { \
      return shuffle_status_;                        \
    }                                                \
  } while (false)

// `lhs` is a declaration and cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SHUFFLE_STATUS_CONCAT_INNER_(a, b) a##b
#define SHUFFLE_STATUS_CONCAT_(a, b) SHUFFLE_STATUS_CONCAT_INNER_(a, b)

#define SHUFFLE_ASSIGN_OR_RETURN(lhs, rexpr) \
  SHUFFLE_ASSIGN_OR_RETURN_IMPL_(SHUFFLE_STATUS_CONCAT_(shuffle_statusor_, __LINE__), lhs, rexpr)

#define SHUFFLE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {                  \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

// Adds context in front of an error's message, keeping its code and payloads:
//   return shuffle::core::Annotate(status, "opening segment " + path);
namespace shuffle::core {
absl::Status Annotate(const absl::Status& status, std::string_view context);
}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_STATUS_MACROS_H_
