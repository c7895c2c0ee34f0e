#include "driver/kube/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::kube {
namespace {

constexpr char kCodeUrl[] = "type.shuffle/kube.HttpCode";
constexpr char kReasonUrl[] = "type.shuffle/kube.Reason";
constexpr char kRetryUrl[] = "type.shuffle/kube.RetryAfterSeconds";

absl::StatusCode CodeFor(int http_code, std::string_view reason, std::string_view message) {
  switch (http_code) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      // ResourceQuota admission refuses with 403 Forbidden "exceeded quota: ...".
      return absl::StrContains(core::ToAbsl(message), "exceeded quota")
                 ? absl::StatusCode::kResourceExhausted
                 : absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists
                                       : absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 429:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_code >= 500 && http_code < 600) {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status Build(const RequestContext& context, int http_code, const std::string& reason,
                   std::string message, std::optional<int64_t> retry_seconds) {
  if (message.empty()) {
    message = reason.empty() ? "no message from the API server" : reason;
  }
  std::string text = absl::StrCat(context.Describe(), ": ", message, " (HTTP ", http_code,
                                  reason.empty() ? "" : " ", reason, ")");
  if (http_code == 410) {
    absl::StrAppend(&text, "; list again and watch from the list's resourceVersion");
  }
  absl::Status status(CodeFor(http_code, reason, message), text);
  status.SetPayload(kCodeUrl, absl::Cord(std::to_string(http_code)));
  if (!reason.empty()) {
    status.SetPayload(kReasonUrl, absl::Cord(reason));
  }
  if (retry_seconds.has_value()) {
    status.SetPayload(kRetryUrl, absl::Cord(std::to_string(*retry_seconds)));
  }
  return status;
}

std::optional<int64_t> RetrySecondsOf(const nlohmann::json& status) {
  const auto details = status.find("details");
  if (details != status.end() && details->is_object()) {
    const auto seconds = details->find("retryAfterSeconds");
    if (seconds != details->end() && seconds->is_number_integer()) {
      return seconds->get<int64_t>();
    }
  }
  return std::nullopt;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string RequestContext::Describe() const {
  std::string out = absl::StrCat(verb, " ", resource);
  if (!name.empty()) {
    absl::StrAppend(&out, " \"", name, "\"");
  }
  if (!ns.empty()) {
    absl::StrAppend(&out, " in namespace ", ns);
  }
  return out;
}

absl::Status StatusFromResponse(const RequestContext& context, long http_code,
                                std::string_view body, std::string_view retry_after) {
  if (http_code >= 200 && http_code < 300) {
    return absl::OkStatus();
  }
  std::string reason;
  std::string message;
  std::optional<int64_t> retry_seconds;
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && StringField(parsed, "kind") == "Status") {
    reason = StringField(parsed, "reason");
    message = StringField(parsed, "message");
    retry_seconds = RetrySecondsOf(parsed);
  } else {
    message = std::string(body.substr(0, 300));
  }
  int64_t header_seconds = 0;
  if (!retry_after.empty() && absl::SimpleAtoi(core::ToAbsl(retry_after), &header_seconds)) {
    retry_seconds = header_seconds;
  }
  return Build(context, static_cast<int>(http_code), reason, std::move(message), retry_seconds);
}

absl::Status StatusFromApiStatus(const RequestContext& context, const nlohmann::json& status) {
  if (!status.is_object()) {
    return absl::InternalError(
        absl::StrCat(context.Describe(), ": the API server sent an ERROR event without a Status"));
  }
  int code = 500;
  if (const auto it = status.find("code"); it != status.end() && it->is_number_integer()) {
    code = it->get<int>();
  }
  return Build(context, code, StringField(status, "reason"), StringField(status, "message"),
               RetrySecondsOf(status));
}

bool IsResourceExpired(const absl::Status& status) { return HttpCode(status) == 410; }

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  const absl::optional<absl::Cord> value = status.GetPayload(kRetryUrl);
  int64_t seconds = 0;
  if (!value.has_value() || !absl::SimpleAtoi(std::string(*value), &seconds)) {
    return std::nullopt;
  }
  return absl::Seconds(seconds);
}

std::optional<int> HttpCode(const absl::Status& status) {
  const absl::optional<absl::Cord> value = status.GetPayload(kCodeUrl);
  int code = 0;
  if (!value.has_value() || !absl::SimpleAtoi(std::string(*value), &code)) {
    return std::nullopt;
  }
  return code;
}

std::string ApiReason(const absl::Status& status) {
  const absl::optional<absl::Cord> value = status.GetPayload(kReasonUrl);
  return value.has_value() ? std::string(*value) : std::string();
}

}  // namespace shuffle::kube
