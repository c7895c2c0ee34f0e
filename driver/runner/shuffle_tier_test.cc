// ShuffleTier against a real secured shuffle-server: the identity token file is read at every
// registration, so a token rotated on disk (a pod's service-account token) is the one presented.
// In the TLS run (tests/support/tls_run.h) through TLS.
#include "driver/runner/shuffle_tier.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::runner {
namespace {

TEST(ShuffleTierTest, ReadsTheIdentityTokenFileAtEveryRegistration) {
  testsupport::TempDir dir("shuffle-tier-");
  std::ofstream(dir.path() + "/token-secret") << std::string(40, 'z') << "\n";
  std::ofstream(dir.path() + "/operator-secret") << "tier-operator\n";
  auto server = testsupport::ServerProcess::Start(
      SHUFFLE_SERVER_BINARY, dir.path() + "/node", "node-0", "", "127.0.0.1:0",
      {"--secret-file=" + dir.path() + "/token-secret",
       "--registration-secret-file=" + dir.path() + "/operator-secret"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string control = (*server)->control_address();
  const std::string identity = dir.path() + "/identity-token";
  const ShuffleTier tier("tier-app", "team-t", "not-the-secret", identity,
                         testsupport::RunCaFile());

  std::ofstream(identity) << "tier-operator\n";
  absl::StatusOr<std::string> token = tier.Prepare(control, core::ShuffleId(1), 2, 2);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_FALSE(token->empty());

  // Rotated to a token the server does not accept: the next registration presents it.
  std::ofstream(identity, std::ios::trunc) << "rotated\n";
  EXPECT_EQ(tier.Prepare(control, core::ShuffleId(2), 2, 2).status().code(),
            absl::StatusCode::kPermissionDenied);

  std::filesystem::remove(identity);
  absl::Status missing = tier.Prepare(control, core::ShuffleId(3), 2, 2).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition) << missing;
  EXPECT_NE(missing.message().find(identity), absl::string_view::npos) << missing;
}

}  // namespace
}  // namespace shuffle::runner
