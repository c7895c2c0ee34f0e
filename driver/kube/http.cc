#include "driver/kube/http.h"

#include <memory>
#include <mutex>

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "shuffle/core/strings.h"

namespace shuffle::kube {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// Per-transfer state reached from curl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;  // null: collect the body
  const std::atomic<bool>* cancel = nullptr;
  bool stopped = false;  // on_data or cancel ended the transfer
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  if (t->on_data == nullptr || code < 200 || code >= 300) {
    t->response->body.append(data, n);
    return n;
  }
  if (!(*t->on_data)(std::string_view(data, n))) {
    t->stopped = true;
    return 0;  // aborts the transfer
  }
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  const absl::string_view line_view = core::ToAbsl(line);
  if (absl::StartsWithIgnoreCase(line_view, "retry-after:")) {
    t->response->retry_after = std::string(
        absl::StripAsciiWhitespace(line_view.substr(absl::string_view("retry-after:").size())));
  }
  return size * count;
}

int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
               curl_off_t /*ulnow*/) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancel != nullptr && t->cancel->load()) {
    t->stopped = true;
    return 1;
  }
  return 0;
}

void SetBlob(CURL* curl, CURLoption option, const std::string& pem) {
  curl_blob blob{};
  blob.data = const_cast<char*>(pem.data());  // NOLINT: curl copies it (CURL_BLOB_COPY)
  blob.len = pem.size();
  blob.flags = CURL_BLOB_COPY;
  curl_easy_setopt(curl, option, &blob);
}

}  // namespace

HttpTransport::HttpTransport(Config config) : config_(std::move(config)) { GlobalInit(); }

absl::StatusOr<HttpResponse> HttpTransport::Perform(const HttpRequest& request) const {
  return Stream(request, nullptr, nullptr);
}

absl::StatusOr<HttpResponse> HttpTransport::Stream(
    const HttpRequest& request, const std::function<bool(std::string_view)>& on_data,
    const std::atomic<bool>* cancel) const {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) {
    return absl::InternalError("curl_easy_init failed");
  }
  CURL* c = curl.get();
  const std::string url = absl::StrCat(config_.server, request.path_and_query);
  HttpResponse response;
  Transfer transfer{
      .curl = c, .response = &response, .on_data = on_data ? &on_data : nullptr, .cancel = cancel};

  std::string token = config_.bearer_token;
  if (!config_.token_file.empty()) {
    if (absl::StatusOr<std::string> fresh = ReadSmallFile(config_.token_file); fresh.ok()) {
      token = std::move(*fresh);
    }
  }
  absl::StripAsciiWhitespace(&token);
  curl_slist* raw_headers = nullptr;
  raw_headers = curl_slist_append(raw_headers, "Accept: application/json");
  if (!token.empty()) {
    raw_headers =
        curl_slist_append(raw_headers, absl::StrCat("Authorization: Bearer ", token).c_str());
  }
  if (!request.content_type.empty()) {
    raw_headers = curl_slist_append(raw_headers,
                                    absl::StrCat("Content-Type: ", request.content_type).c_str());
  }
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "shuffle-kube/0.1");
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  if (request.method != "GET" || !request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  if (request.timeout > absl::ZeroDuration()) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  }
  if (!config_.ca_pem.empty()) {
    SetBlob(c, CURLOPT_CAINFO_BLOB, config_.ca_pem);
  }
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!config_.client_cert_pem.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    SetBlob(c, CURLOPT_SSLCERT_BLOB, config_.client_cert_pem);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    SetBlob(c, CURLOPT_SSLKEY_BLOB, config_.client_key_pem);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  if (cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.code);
  if (transfer.stopped) {
    return absl::CancelledError(absl::StrCat(request.method, " ", url, ": stopped"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(request.method, " ", url, ": ",
                                               error[0] != '\0' ? error : curl_easy_strerror(rc)));
  }
  return response;
}

}  // namespace shuffle::kube
