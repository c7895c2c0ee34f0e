#include "driver/cli/driver_options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shuffle::cli {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<DriverOptions> Parse(const std::vector<std::string>& args) {
  return ParseDriverOptions(args);
}

TEST(DriverOptionsTest, LocalTlsNeedsCertificateKeyAndCa) {
  EXPECT_TRUE(
      Parse({"--tls-cert-file=s.crt", "--tls-key-file=s.key", "--tls-ca-file=ca.crt"}).ok());
  EXPECT_THAT(Parse({"--tls-cert-file=s.crt", "--tls-key-file=s.key"}).status().message(),
              HasSubstr("go together"));
  EXPECT_THAT(Parse({"--tls-ca-file=ca.crt", "--tls-ca-secret=tls"}).status().message(),
              HasSubstr("--tls-ca-secret is for the Kubernetes backend"));
}

// On Kubernetes the DaemonSet has its certificate; the driver takes the CA file for its own calls
// and the Secret its executor pods mount, and checks the name deploy/overlays/tls issues.
TEST(DriverOptionsTest, KubernetesTlsIsACaFileAndTheSecretExecutorsMount) {
  absl::StatusOr<DriverOptions> o = Parse({"--backend=kubernetes", "--server-namespace=shuffle",
                                           "--tls-ca-file=ca.crt", "--tls-ca-secret=shuffle-ca"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tls_server_name, "shuffle-server.shuffle.svc");
  EXPECT_EQ(o->tls_ca_secret, "shuffle-ca");

  o = Parse({"--backend=kubernetes", "--tls-ca-file=ca.crt", "--tls-ca-secret=shuffle-ca",
             "--tls-server-name=servers.example"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tls_server_name, "servers.example");

  EXPECT_THAT(Parse({"--backend=kubernetes", "--tls-ca-file=ca.crt"}).status().message(),
              HasSubstr("--tls-ca-secret"));
  EXPECT_THAT(Parse({"--backend=kubernetes", "--tls-ca-secret=shuffle-ca"}).status().message(),
              HasSubstr("--tls-ca-file"));
  EXPECT_THAT(Parse({"--backend=kubernetes", "--tls-cert-file=s.crt", "--tls-key-file=s.key",
                     "--tls-ca-file=ca.crt"})
                  .status()
                  .message(),
              HasSubstr("deploy/overlays/tls"));
  EXPECT_TRUE(Parse({"--backend=kubernetes"}).ok());
}

}  // namespace
}  // namespace shuffle::cli
