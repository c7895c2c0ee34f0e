#include "shuffle-server/security/token_authority.h"

#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/strings.h"

namespace shuffle::security {
namespace {

constexpr std::string_view kPrefix = "v1.";
constexpr std::string_view kDomain = "shuffle-token-v1";

}  // namespace

absl::StatusOr<std::unique_ptr<TokenAuthority>> TokenAuthority::Create(std::string secret) {
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token secret is ", secret.size(), " bytes; at least ", kMinSecretBytes,
                     " are required (e.g. `head -c 48 /dev/urandom | base64`)"));
  }
  return std::unique_ptr<TokenAuthority>(new TokenAuthority(std::move(secret)));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read secret file ", path, ": mount the Secret there or fix the path"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string secret = buffer.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("secret file ", path, " is empty"));
  }
  return secret;
}

absl::StatusOr<std::unique_ptr<TokenAuthority>> TokenAuthority::FromFile(const std::string& path) {
  absl::StatusOr<std::string> secret = ReadSecretFile(path);
  if (!secret.ok()) {
    return secret.status();
  }
  auto authority = Create(*std::move(secret));
  if (!authority.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token secret file ", path, ": ", authority.status().message()));
  }
  return authority;
}

std::unique_ptr<TokenAuthority> TokenAuthority::Open() {
  return std::unique_ptr<TokenAuthority>(new TokenAuthority(""));
}

std::string TokenAuthority::Mac(std::string_view app_id, std::string_view namespace_name) const {
  std::string message(kDomain);
  message.push_back('\0');
  message.append(app_id);
  message.push_back('\0');
  message.append(namespace_name);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

std::string TokenAuthority::Issue(std::string_view app_id, std::string_view namespace_name) const {
  if (open()) {
    return "";
  }
  return absl::StrCat(core::ToAbsl(kPrefix),
                      absl::WebSafeBase64Escape(core::ToAbsl(namespace_name)), ".",
                      absl::WebSafeBase64Escape(Mac(app_id, namespace_name)));
}

absl::StatusOr<std::string> TokenAuthority::Verify(std::string_view app_id,
                                                   std::string_view token) const {
  if (open()) {
    return std::string();
  }
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("application ", core::ToAbsl(app_id),
                     " presented no token; register the application with the control plane first"));
  }
  const size_t dot = token.rfind('.');
  std::string namespace_name;
  std::string mac;
  if (token.substr(0, kPrefix.size()) != kPrefix || dot == std::string_view::npos ||
      dot < kPrefix.size() ||
      !absl::WebSafeBase64Unescape(core::ToAbsl(token.substr(kPrefix.size(), dot - kPrefix.size())),
                                   &namespace_name) ||
      !absl::WebSafeBase64Unescape(core::ToAbsl(token.substr(dot + 1)), &mac)) {
    return absl::UnauthenticatedError(
        absl::StrCat("application ", core::ToAbsl(app_id), " presented a malformed token"));
  }
  const std::string expected = Mac(app_id, namespace_name);
  if (mac.size() != expected.size() ||
      CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token presented is not valid for application ", core::ToAbsl(app_id)));
  }
  return namespace_name;
}

}  // namespace shuffle::security
