#include "shuffle-server/sparkess/sasl.h"

#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/sparkess/wire.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::sparkess {
namespace {

using core::Kv;

constexpr unsigned char kSaslTag = 0xEA;
// What Spark's client uses: protocol null and server name "default" make the digest-uri
// "null/default" (Cyrus checks its service part); realm "default".
constexpr char kService[] = "null";
constexpr char kServerName[] = "default";
constexpr char kRealm[] = "default";

// The password of the handshake step running on this thread. Cyrus asks for a user's password
// through an auxiliary property plugin, a process-wide registration; this thread-local hands
// the plugin the application's (encoded) secret for the duration of one step.
thread_local const std::string* step_password = nullptr;

int LookupPassword(void* /*glob*/, sasl_server_params_t* sparams, unsigned flags,
                   const char* /*user*/, unsigned /*ulen*/) {
  if (step_password == nullptr || (flags & SASL_AUXPROP_AUTHZID) != 0) {
    return SASL_OK;
  }
  const propval* requested = sparams->utils->prop_get(sparams->propctx);
  for (const propval* p = requested; p != nullptr && p->name != nullptr; ++p) {
    if (std::strcmp(p->name, SASL_AUX_PASSWORD) != 0) {
      continue;
    }
    if (p->values != nullptr) {
      sparams->utils->prop_erase(sparams->propctx, p->name);
    }
    sparams->utils->prop_set(sparams->propctx, p->name, step_password->data(),
                             static_cast<int>(step_password->size()));
  }
  return SASL_OK;
}

sasl_auxprop_plug_t password_plugin = {
    0, 0, nullptr, nullptr, LookupPassword, const_cast<char*>("spark-ess"), nullptr};

int InitPasswordPlugin(const sasl_utils_t* /*utils*/, int /*max_version*/, int* out_version,
                       sasl_auxprop_plug_t** plug, const char* /*plugname*/) {
  *out_version = SASL_AUXPROP_PLUG_VERSION;
  *plug = &password_plugin;
  return SASL_OK;
}

int GetOption(void* /*context*/, const char* /*plugin*/, const char* option, const char** result,
              unsigned* len) {
  const char* value = nullptr;
  if (std::strcmp(option, "auxprop_plugin") == 0) {
    value = "spark-ess";
  } else if (std::strcmp(option, "mech_list") == 0) {
    value = "DIGEST-MD5";
  } else {
    return SASL_FAIL;
  }
  *result = value;
  if (len != nullptr) {
    *len = static_cast<unsigned>(std::strlen(value));
  }
  return SASL_OK;
}

int Log(void* /*context*/, int level, const char* message) {
  if (level <= SASL_LOG_WARN) {
    SHUFFLE_LOG(WARNING) << "Cyrus SASL" << Kv("message", message);
  }
  return SASL_OK;
}

// Cyrus takes every callback as int(*)(void); the cast through void(*)() says so on purpose.
template <typename F>
sasl_callback_ft AsCallback(F* f) {
  return reinterpret_cast<sasl_callback_ft>(reinterpret_cast<void (*)()>(f));
}
const sasl_callback_t kCallbacks[] = {{SASL_CB_GETOPT, AsCallback(&GetOption), nullptr},
                                      {SASL_CB_LOG, AsCallback(&Log), nullptr},
                                      {SASL_CB_LIST_END, nullptr, nullptr}};

absl::Status InitCyrus() {
  static const absl::Status* status = [] {
    int rc = sasl_auxprop_add_plugin("spark-ess", InitPasswordPlugin);
    if (rc == SASL_OK) {
      rc = sasl_server_init(kCallbacks, "shuffle-server");
    }
    return new absl::Status(
        rc == SASL_OK ? absl::OkStatus()
                      : absl::InternalError(absl::StrCat(
                            "Cyrus SASL did not initialize (", sasl_errstring(rc, nullptr, nullptr),
                            "): is libsasl2-modules (its DIGEST-MD5 plugin) installed?")));
  }();
  return *status;
}

struct SaslMessage {
  std::string app_id;
  std::string token;
};

absl::StatusOr<SaslMessage> DecodeSaslMessage(std::string_view body) {
  WireReader in(body);
  SHUFFLE_ASSIGN_OR_RETURN(int8_t tag, in.Byte("SaslMessage tag"));
  if (static_cast<unsigned char>(tag) != kSaslTag) {
    return absl::UnauthenticatedError(
        "Expected SaslMessage, received something else (maybe your client does not have SASL "
        "enabled?)");
  }
  SaslMessage m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("SaslMessage appId"));
  SHUFFLE_RETURN_IF_ERROR(in.Int("SaslMessage body size").status());
  m.token = std::string(in.Rest());
  return m;
}

class SaslHandshake final : public ServerHandshake {
 public:
  SaslHandshake(std::string app_id, std::string password, sasl_conn_t* conn)
      : app_id_(std::move(app_id)), password_(std::move(password)), conn_(conn) {}
  ~SaslHandshake() override { sasl_dispose(&conn_); }

  absl::StatusOr<std::string> Step(std::string_view rpc_body) override {
    SHUFFLE_ASSIGN_OR_RETURN(SaslMessage m, DecodeSaslMessage(rpc_body));
    if (m.app_id != app_id_) {
      return absl::PermissionDeniedError(
          absl::StrCat("SASL handshake of ", app_id_, " continued for another application"));
    }
    const char* out = nullptr;
    unsigned out_len = 0;
    step_password = &password_;
    const int rc = started_
                       ? sasl_server_step(conn_, m.token.data(),
                                          static_cast<unsigned>(m.token.size()), &out, &out_len)
                       : sasl_server_start(conn_, "DIGEST-MD5", m.token.data(),
                                           static_cast<unsigned>(m.token.size()), &out, &out_len);
    step_password = nullptr;
    started_ = true;
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
      return absl::PermissionDeniedError(absl::StrCat(
          "SASL DIGEST-MD5 authentication of application ", app_id_, " failed (",
          sasl_errdetail(conn_),
          "): check that the application's spark.authenticate.secret "
          "matches the shuffle server's (--spark-secret-file or --spark-secrets-dir)"));
    }
    done_ = rc == SASL_OK;
    return std::string(out != nullptr ? out : "", out_len);
  }
  bool done() const override { return done_; }
  const std::string& app_id() const override { return app_id_; }

 private:
  const std::string app_id_;
  const std::string password_;
  sasl_conn_t* conn_;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServerHandshake>> StartSaslHandshake(std::string_view first_body,
                                                                    const SecretSource& secrets) {
  SHUFFLE_RETURN_IF_ERROR(InitCyrus());
  SHUFFLE_ASSIGN_OR_RETURN(SaslMessage m, DecodeSaslMessage(first_body));
  std::optional<std::string> secret = secrets.SecretOf(m.app_id);
  if (!secret.has_value()) {
    return absl::PermissionDeniedError(absl::StrCat("no secret for application ", m.app_id,
                                                    " on this shuffle server (--spark-secret-file, "
                                                    "--spark-secrets-dir)"));
  }
  sasl_conn_t* conn = nullptr;
  int rc = sasl_server_new(kService, kServerName, kRealm, nullptr, nullptr, nullptr,
                           SASL_SUCCESS_DATA, &conn);
  if (rc == SASL_OK) {
    // "auth" only: no SASL integrity or encryption layer (spark.authenticate.enableSaslEncryption
    // is refused by the negotiation).
    sasl_security_properties_t props{};
    props.min_ssf = 0;
    props.max_ssf = 0;
    props.maxbufsize = 0;
    rc = sasl_setprop(conn, SASL_SEC_PROPS, &props);
  }
  if (rc != SASL_OK) {
    const std::string detail = conn != nullptr ? sasl_errdetail(conn) : "";
    sasl_dispose(&conn);
    return absl::InternalError(absl::StrCat("SASL server setup failed: ", detail));
  }
  // Spark's client and server both use the base64 of the secret's UTF-8 bytes as password.
  return std::unique_ptr<ServerHandshake>(
      new SaslHandshake(m.app_id, absl::Base64Escape(*secret), conn));
}

}  // namespace shuffle::sparkess
