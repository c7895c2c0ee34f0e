#include "shuffle-server/sparkess/auth.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle-server/sparkess/aes_auth.h"
#include "shuffle-server/sparkess/sasl.h"

namespace shuffle::sparkess {
namespace {

constexpr unsigned char kSaslTag = 0xEA;
constexpr unsigned char kAuthMessageTag = 0xFB;

std::optional<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.empty()) {
    return std::nullopt;
  }
  return secret;
}

class FileSecrets final : public SecretSource {
 public:
  FileSecrets(std::string file, std::string dir) : file_(std::move(file)), dir_(std::move(dir)) {}
  std::optional<std::string> SecretOf(const std::string& app_id) const override {
    if (!dir_.empty() && !app_id.empty() && app_id.front() != '.' &&
        app_id.find('/') == std::string::npos && app_id.find('\0') == std::string::npos) {
      if (std::optional<std::string> s = ReadSecret(dir_ + "/" + app_id)) {
        return s;
      }
    }
    return file_.empty() ? std::nullopt : ReadSecret(file_);
  }

 private:
  const std::string file_;
  const std::string dir_;
};

}  // namespace

std::unique_ptr<SecretSource> FileSecretSource(std::string file, std::string dir) {
  return std::make_unique<FileSecrets>(std::move(file), std::move(dir));
}

absl::StatusOr<std::unique_ptr<ServerHandshake>> StartHandshake(std::string_view first_body,
                                                                const SecretSource& secrets,
                                                                int aes_engine_version) {
  const unsigned char tag = first_body.empty() ? 0 : static_cast<unsigned char>(first_body[0]);
  if (tag == kSaslTag) {
    return StartSaslHandshake(first_body, secrets);
  }
  if (tag == kAuthMessageTag) {
    return StartAesHandshake(secrets, aes_engine_version);
  }
  return absl::UnauthenticatedError(
      "Expected SaslMessage, received something else (maybe your client does not have SASL "
      "enabled?): this shuffle service requires spark.authenticate=true");
}

}  // namespace shuffle::sparkess
