// TokenAuthority: issues and verifies per-application tokens. A token binds an application id to
// its namespace with an HMAC-SHA256 under a cluster secret that only the shuffle servers hold (a
// Kubernetes Secret shared by the DaemonSet's pods), so any server of the cluster can check a
// token another one issued, and an application can never present another's identity.
//
// Token form: "v1." base64url(namespace) "." base64url(HMAC-SHA256(secret,
//              "shuffle-token-v1" NUL app_id NUL namespace))
//
// An authority built without a secret is "open": it issues empty tokens and accepts any token;
// servers log loudly that they run unauthenticated. Immutable after creation; thread-safe.
#ifndef SHUFFLE_SERVER_SECURITY_TOKEN_AUTHORITY_H_
#define SHUFFLE_SERVER_SECURITY_TOKEN_AUTHORITY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shuffle::security {

// The minimum secret length accepted, in bytes.
inline constexpr size_t kMinSecretBytes = 32;

// Reads a secret from a file (a mounted Kubernetes Secret, usually), without its trailing
// newline. NOT_FOUND for a missing or unreadable file, INVALID_ARGUMENT for an empty one.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

class TokenAuthority {
 public:
  // REQUIRES: secret.size() >= kMinSecretBytes (INVALID_ARGUMENT otherwise).
  static absl::StatusOr<std::unique_ptr<TokenAuthority>> Create(std::string secret);
  // Reads the secret from a file (trailing newline stripped); clear errors for a missing,
  // unreadable or too short file.
  static absl::StatusOr<std::unique_ptr<TokenAuthority>> FromFile(const std::string& path);
  static std::unique_ptr<TokenAuthority> Open();

  bool open() const { return secret_.empty(); }

  std::string Issue(std::string_view app_id, std::string_view namespace_name) const;

  // The namespace the token was issued for. UNAUTHENTICATED for a missing or malformed token,
  // PERMISSION_DENIED for a token that is well formed but not valid for `app_id` (forged, another
  // application's, or issued under another secret). Messages never echo the token.
  absl::StatusOr<std::string> Verify(std::string_view app_id, std::string_view token) const;

 private:
  explicit TokenAuthority(std::string secret) : secret_(std::move(secret)) {}
  std::string Mac(std::string_view app_id, std::string_view namespace_name) const;
  const std::string secret_;
};

}  // namespace shuffle::security

#endif  // SHUFFLE_SERVER_SECURITY_TOKEN_AUTHORITY_H_
