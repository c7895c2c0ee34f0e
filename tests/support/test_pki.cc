#include "tests/support/test_pki.h"

#include <stdio.h>

#include <cstdlib>
#include <iostream>
#include <utility>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shuffle::testsupport {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "TestPki: " << what << " failed\n";
  std::abort();
}

EVP_PKEY* NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) {
    Die("generating a P-256 key");
  }
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) {
    Die(absl::StrCat("adding extension ", value));
  }
  X509_EXTENSION_free(ext);
}

X509* NewCert(const std::string& common_name, EVP_PKEY* key, long serial,  // NOLINT
              bool expired) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  if (expired) {
    X509_gmtime_adj(X509_getm_notBefore(cert), -2 * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), -86400);
  } else {
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  }
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  return cert;
}

// Writes by rename, so a reader never sees half a file (as a Secret volume swap).
template <typename WriteFn>
void WritePem(const std::string& path, WriteFn write) {
  const std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr || write(f) != 1 || fclose(f) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    Die(absl::StrCat("writing ", path));
  }
}

}  // namespace

struct TestPki::Keys {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Keys() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

TestPki::TestPki(std::string dir, const std::string& name)
    : dir_(std::move(dir)),
      ca_file_(absl::StrCat(dir_, "/", name, ".crt")),
      keys_(std::make_unique<Keys>()) {
  keys_->key = NewKey();
  keys_->cert = NewCert(name, keys_->key, serial_++, /*expired=*/false);
  X509_set_issuer_name(keys_->cert, X509_get_subject_name(keys_->cert));
  AddExtension(keys_->cert, keys_->cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(keys_->cert, keys_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(keys_->cert, keys_->cert, NID_subject_key_identifier, "hash");
  if (X509_sign(keys_->cert, keys_->key, EVP_sha256()) == 0) {
    Die("signing the CA");
  }
  WritePem(ca_file_, [&](FILE* f) { return PEM_write_X509(f, keys_->cert); });
}

TestPki::~TestPki() = default;

IssuedCertificate TestPki::Issue(const std::string& stem, const std::vector<std::string>& names,
                                 bool expired) {
  EVP_PKEY* key = NewKey();
  X509* cert = NewCert(names.empty() ? stem : names.front(), key, serial_++, expired);
  X509_set_issuer_name(cert, X509_get_subject_name(keys_->cert));
  std::vector<std::string> alt;
  for (const std::string& n : names) {
    in6_addr ip6{};
    in_addr ip4{};
    const bool ip =
        inet_pton(AF_INET, n.c_str(), &ip4) == 1 || inet_pton(AF_INET6, n.c_str(), &ip6) == 1;
    alt.push_back(absl::StrCat(ip ? "IP:" : "DNS:", n));
  }
  if (!alt.empty()) {
    AddExtension(cert, keys_->cert, NID_subject_alt_name, absl::StrJoin(alt, ","));
  }
  AddExtension(cert, keys_->cert, NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert, keys_->cert, NID_ext_key_usage, "serverAuth,clientAuth");
  AddExtension(cert, keys_->cert, NID_authority_key_identifier, "keyid");
  if (X509_sign(cert, keys_->key, EVP_sha256()) == 0) {
    Die(absl::StrCat("signing ", stem));
  }
  IssuedCertificate issued{.cert_file = absl::StrCat(dir_, "/", stem, ".crt"),
                           .key_file = absl::StrCat(dir_, "/", stem, ".key")};
  // The key first: a reloading server that sees the new certificate finds its key in place.
  WritePem(issued.key_file, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  WritePem(issued.cert_file, [&](FILE* f) { return PEM_write_X509(f, cert); });
  X509_free(cert);
  EVP_PKEY_free(key);
  return issued;
}

}  // namespace shuffle::testsupport
