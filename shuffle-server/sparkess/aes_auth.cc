#include "shuffle-server/sparkess/aes_auth.h"

#include <memory>
#include <string>
#include <utility>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "shuffle-server/sparkess/wire.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::sparkess {
namespace {

constexpr unsigned char kAuthMessageTag = 0xFB;
constexpr size_t kGcmKeyBytes = 16;
constexpr size_t kGcmIvBytes = 12;
constexpr size_t kGcmTagBytes = 16;
constexpr size_t kX25519Bytes = 32;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;
using Pkey = std::unique_ptr<EVP_PKEY, CtxFree>;

absl::Status Failed(std::string_view what) {
  return absl::PermissionDeniedError(
      absl::StrCat("AES authentication failed: ", core::ToAbsl(what)));
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// RFC 5869 HKDF with HMAC-SHA256, as Tink's Hkdf.computeHkdf("HMACSHA256", ...).
absl::StatusOr<std::string> Hkdf(std::string_view ikm, std::string_view salt, std::string_view info,
                                 size_t size) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string out(size, '\0');
  size_t len = size;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), Bytes(salt), static_cast<int>(salt.size())) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), Bytes(ikm), static_cast<int>(ikm.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), Bytes(info), static_cast<int>(info.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len) <= 0 ||
      len != size) {
    return absl::InternalError("HKDF failed");
  }
  return out;
}

// AES-128-GCM as Tink's AesGcmJce: iv (12 bytes) || ciphertext || tag (16 bytes).
absl::StatusOr<std::string> GcmDecrypt(std::string_view key, std::string_view sealed,
                                       std::string_view aad) {
  if (sealed.size() < kGcmIvBytes + kGcmTagBytes) {
    return Failed("ciphertext too short");
  }
  const std::string_view iv = sealed.substr(0, kGcmIvBytes);
  const std::string_view body =
      sealed.substr(kGcmIvBytes, sealed.size() - kGcmIvBytes - kGcmTagBytes);
  std::string tag(sealed.substr(sealed.size() - kGcmTagBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(body.size(), '\0');
  int len = 0;
  int final_len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, Bytes(key), Bytes(iv)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, Bytes(body),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                          &final_len) != 1) {
    return Failed(
        "the client's key does not decrypt with this application's secret (check "
        "spark.authenticate.secret against --spark-secret-file / --spark-secrets-dir)");
  }
  return out;
}

absl::StatusOr<std::string> GcmEncrypt(std::string_view key, std::string_view plain,
                                       std::string_view aad) {
  std::string out(kGcmIvBytes + plain.size() + kGcmTagBytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (RAND_bytes(p, kGcmIvBytes) != 1 || ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, Bytes(key), p) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), p + kGcmIvBytes, &len, Bytes(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), p + kGcmIvBytes + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes,
                          p + kGcmIvBytes + plain.size()) != 1) {
    return absl::InternalError("AES-GCM encryption failed");
  }
  return out;
}

struct AuthMessage {
  std::string app_id;
  std::string salt;
  std::string ciphertext;

  std::string Encode() const {
    WireWriter w;
    w.Byte(static_cast<int8_t>(kAuthMessageTag)).String(app_id).Bytes(salt).Bytes(ciphertext);
    return w.Take();
  }
};

absl::StatusOr<AuthMessage> DecodeAuthMessage(std::string_view body) {
  WireReader in(body);
  SHUFFLE_ASSIGN_OR_RETURN(int8_t tag, in.Byte("AuthMessage tag"));
  if (static_cast<unsigned char>(tag) != kAuthMessageTag) {
    return absl::InvalidArgumentError("Expected ClientChallenge, received something else.");
  }
  AuthMessage m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("AuthMessage appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.salt, in.Bytes("AuthMessage salt"));
  SHUFFLE_ASSIGN_OR_RETURN(m.ciphertext, in.Bytes("AuthMessage ciphertext"));
  return m;
}

// The key that encrypts an ephemeral public key: HKDF(secret, salt, appId || salt || transcript).
absl::StatusOr<std::string> KeyEncryptingKey(std::string_view secret, const std::string& app_id,
                                             const std::string& salt, std::string_view transcript,
                                             std::string* aad) {
  *aad = absl::StrCat(app_id, salt, core::ToAbsl(transcript));
  return Hkdf(secret, salt, *aad, kGcmKeyBytes);
}

class CtrCipher final : public TransportCipher {
 public:
  static absl::StatusOr<std::unique_ptr<CtrCipher>> Create(const std::string& key,
                                                           const std::string& in_iv,
                                                           const std::string& out_iv) {
    const EVP_CIPHER* type = key.size() == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr();
    std::unique_ptr<CtrCipher> c(new CtrCipher());
    c->in_.reset(EVP_CIPHER_CTX_new());
    c->out_.reset(EVP_CIPHER_CTX_new());
    if (c->in_ == nullptr || c->out_ == nullptr ||
        EVP_DecryptInit_ex(c->in_.get(), type, nullptr, Bytes(key), Bytes(in_iv)) != 1 ||
        EVP_EncryptInit_ex(c->out_.get(), type, nullptr, Bytes(key), Bytes(out_iv)) != 1) {
      return absl::InternalError("AES-CTR setup failed");
    }
    return c;
  }
  void Encrypt(char* data, size_t n) override { Apply(out_.get(), data, n); }
  void Decrypt(char* data, size_t n) override { Apply(in_.get(), data, n); }

 private:
  CtrCipher() = default;
  static void Apply(EVP_CIPHER_CTX* ctx, char* data, size_t n) {
    auto* p = reinterpret_cast<unsigned char*>(data);
    while (n > 0) {
      const int step = static_cast<int>(std::min<size_t>(n, 1 << 30));
      int len = 0;
      EVP_CipherUpdate(ctx, p, &len, p, step);  // CTR: in place, never fails on valid input
      p += step;
      n -= static_cast<size_t>(step);
    }
  }
  CipherCtx in_;
  CipherCtx out_;
};

class AesHandshake final : public ServerHandshake {
 public:
  AesHandshake(const SecretSource& secrets, int engine_version)
      : secrets_(secrets), engine_version_(engine_version) {}

  absl::StatusOr<std::string> Step(std::string_view rpc_body) override {
    if (done_) {
      return absl::FailedPreconditionError("AES handshake already complete");
    }
    SHUFFLE_ASSIGN_OR_RETURN(AuthMessage client, DecodeAuthMessage(rpc_body));
    std::optional<std::string> secret = secrets_.SecretOf(client.app_id);
    if (!secret.has_value()) {
      return Failed(
          absl::StrCat("no secret for application ", client.app_id, " on this shuffle server"));
    }
    std::string aad;
    SHUFFLE_ASSIGN_OR_RETURN(std::string kek,
                             KeyEncryptingKey(*secret, client.app_id, client.salt, "", &aad));
    SHUFFLE_ASSIGN_OR_RETURN(std::string client_public, GcmDecrypt(kek, client.ciphertext, aad));
    if (client_public.size() != kX25519Bytes) {
      return Failed("the client's public key is not an X25519 key");
    }
    PkeyCtx keygen(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
    EVP_PKEY* raw_key = nullptr;
    if (keygen == nullptr || EVP_PKEY_keygen_init(keygen.get()) <= 0 ||
        EVP_PKEY_keygen(keygen.get(), &raw_key) <= 0) {
      return absl::InternalError("X25519 key generation failed");
    }
    Pkey server_key(raw_key);
    std::string server_public(kX25519Bytes, '\0');
    size_t public_len = kX25519Bytes;
    Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, Bytes(client_public),
                                          client_public.size()));
    if (EVP_PKEY_get_raw_public_key(server_key.get(),
                                    reinterpret_cast<unsigned char*>(server_public.data()),
                                    &public_len) <= 0 ||
        peer == nullptr) {
      return Failed("bad X25519 key");
    }
    std::string shared(kX25519Bytes, '\0');
    size_t shared_len = kX25519Bytes;
    PkeyCtx derive(EVP_PKEY_CTX_new(server_key.get(), nullptr));
    if (derive == nullptr || EVP_PKEY_derive_init(derive.get()) <= 0 ||
        EVP_PKEY_derive_set_peer(derive.get(), peer.get()) <= 0 ||
        EVP_PKEY_derive(derive.get(), reinterpret_cast<unsigned char*>(shared.data()),
                        &shared_len) <= 0) {
      return Failed("X25519 key agreement failed");
    }
    AuthMessage server{
        .app_id = client.app_id, .salt = std::string(kGcmKeyBytes, '\0'), .ciphertext = {}};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(server.salt.data()), kGcmKeyBytes) != 1) {
      return absl::InternalError("no randomness");
    }
    const std::string client_encoded = client.Encode();
    SHUFFLE_ASSIGN_OR_RETURN(
        std::string server_kek,
        KeyEncryptingKey(*secret, server.app_id, server.salt, client_encoded, &aad));
    SHUFFLE_ASSIGN_OR_RETURN(server.ciphertext, GcmEncrypt(server_kek, server_public, aad));
    const std::string reply = server.Encode();
    const std::string transcript = client_encoded + reply;
    std::string session_key = shared;
    if (engine_version_ != 1) {
      SHUFFLE_ASSIGN_OR_RETURN(session_key, Hkdf(shared, transcript, "derivedKey", kGcmKeyBytes));
    }
    SHUFFLE_ASSIGN_OR_RETURN(std::string client_iv, Hkdf(shared, transcript, "inputIv", 16));
    SHUFFLE_ASSIGN_OR_RETURN(std::string server_iv, Hkdf(shared, transcript, "outputIv", 16));
    // The server reads with the server IV (the client's output IV) and writes with the
    // client's.
    SHUFFLE_ASSIGN_OR_RETURN(cipher_, CtrCipher::Create(session_key, server_iv, client_iv));
    app_id_ = client.app_id;
    done_ = true;
    return reply;
  }
  bool done() const override { return done_; }
  const std::string& app_id() const override { return app_id_; }
  std::unique_ptr<TransportCipher> TakeCipher() override { return std::move(cipher_); }

 private:
  const SecretSource& secrets_;
  const int engine_version_;
  std::string app_id_;
  std::unique_ptr<TransportCipher> cipher_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServerHandshake>> StartAesHandshake(const SecretSource& secrets,
                                                                   int engine_version) {
  return std::unique_ptr<ServerHandshake>(new AesHandshake(secrets, engine_version));
}

}  // namespace shuffle::sparkess
