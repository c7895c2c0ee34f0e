#include "shuffle-server/security/token_authority.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace shuffle::security {
namespace {

const std::string kSecret(40, 's');

TEST(TokenAuthorityTest, IssuedTokenVerifiesAndCarriesNamespace) {
  auto authority = TokenAuthority::Create(kSecret);
  ASSERT_TRUE(authority.ok());
  const std::string token = (*authority)->Issue("app-1", "team-a");
  auto ns = (*authority)->Verify("app-1", token);
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(*ns, "team-a");
  // Another server of the cluster (same secret) accepts it too.
  auto other = TokenAuthority::Create(kSecret);
  EXPECT_EQ(*(*other)->Verify("app-1", token), "team-a");
}

TEST(TokenAuthorityTest, WrongMissingForgedAndCrossApplicationTokensAreRefused) {
  auto authority = *TokenAuthority::Create(kSecret);
  const std::string token = authority->Issue("app-1", "team-a");
  // Missing and malformed: UNAUTHENTICATED.
  EXPECT_EQ(authority->Verify("app-1", "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authority->Verify("app-1", "garbage").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authority->Verify("app-1", "v1.!!!.???").status().code(),
            absl::StatusCode::kUnauthenticated);
  // Another application's token, a namespace swapped in, a token from another secret, a flipped
  // MAC: PERMISSION_DENIED.
  EXPECT_EQ(authority->Verify("app-2", token).status().code(), absl::StatusCode::kPermissionDenied);
  const std::string other_ns = authority->Issue("app-1", "team-b");
  const std::string swapped =
      other_ns.substr(0, other_ns.rfind('.')) + token.substr(token.rfind('.'));
  EXPECT_EQ(authority->Verify("app-1", swapped).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto foreign = *TokenAuthority::Create(std::string(40, 'x'));
  EXPECT_EQ(authority->Verify("app-1", foreign->Issue("app-1", "team-a")).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  absl::Status st = authority->Verify("app-1", flipped).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  // Nothing is leaked: the message never contains the token or the expected value.
  EXPECT_EQ(st.message().find(flipped), std::string::npos);
  EXPECT_EQ(st.message().find(token.substr(token.rfind('.') + 1)), std::string::npos);
}

TEST(TokenAuthorityTest, SecretRulesAndFiles) {
  EXPECT_EQ(TokenAuthority::Create("short").status().code(), absl::StatusCode::kInvalidArgument);
  const std::string path = std::filesystem::temp_directory_path() / "shuffle-secret-test";
  {
    std::ofstream out(path);
    out << kSecret << "\n";
  }
  auto from_file = TokenAuthority::FromFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  auto direct = *TokenAuthority::Create(kSecret);
  EXPECT_EQ((*from_file)->Issue("a", "n"), direct->Issue("a", "n"));
  std::filesystem::remove(path);
  EXPECT_EQ(TokenAuthority::FromFile(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(TokenAuthorityTest, OpenAuthorityAcceptsAnything) {
  auto open = TokenAuthority::Open();
  EXPECT_TRUE(open->open());
  EXPECT_EQ(open->Issue("a", "n"), "");
  EXPECT_TRUE(open->Verify("a", "").ok());
}

}  // namespace
}  // namespace shuffle::security
