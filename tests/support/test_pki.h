// TestPki: a throw-away certificate authority for TLS tests, made in process with OpenSSL (P-256
// keys, SHA-256 signatures): a CA, and server or client certificates it issues for given DNS
// names and IP addresses, written as PEM files into a directory the caller owns. Also a second,
// unrelated CA for "signed by someone else" cases. Aborts on any OpenSSL failure: no TLS test can
// go on without its certificates. Not thread-safe (one owner).
#ifndef SHUFFLE_TESTS_SUPPORT_TEST_PKI_H_
#define SHUFFLE_TESTS_SUPPORT_TEST_PKI_H_

#include <memory>
#include <string>
#include <vector>

namespace shuffle::testsupport {

struct IssuedCertificate {
  std::string cert_file;  // PEM certificate followed by nothing (the CA is known to peers)
  std::string key_file;   // PEM private key
};

class TestPki {
 public:
  // A new CA named `name`, its certificate at "<dir>/<name>.crt".
  explicit TestPki(std::string dir, const std::string& name = "shuffle-test-ca");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_file() const { return ca_file_; }

  // Issues "<dir>/<stem>.crt" and "<dir>/<stem>.key", valid for `names` (DNS names, or IP
  // addresses such as "127.0.0.1"; also the subject's common name) from now on for a day, or
  // already expired when `expired`. Overwrites earlier files of the same stem by rename, as a
  // Secret volume update does.
  IssuedCertificate Issue(const std::string& stem, const std::vector<std::string>& names,
                          bool expired = false);

 private:
  struct Keys;
  std::string dir_;
  std::string ca_file_;
  std::unique_ptr<Keys> keys_;
  long serial_ = 1;  // NOLINT(google-runtime-int): OpenSSL's type
};

}  // namespace shuffle::testsupport

#endif  // SHUFFLE_TESTS_SUPPORT_TEST_PKI_H_
