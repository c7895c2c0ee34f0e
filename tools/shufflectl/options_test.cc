// shufflectl's command-line parsing and help pages.
#include "tools/shufflectl/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::shufflectl {
namespace {

using ::testing::HasSubstr;

std::string Error(const std::vector<std::string>& args) {
  absl::StatusOr<CtlOptions> o = ParseCtlOptions(args);
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(o.status().message());
}

TEST(CtlOptionsTest, TlsFlagsComeTogether) {
  absl::StatusOr<CtlOptions> o =
      ParseCtlOptions({"health", "--tls-ca-file=/tls/ca.crt", "--tls-cert-file=/tls/tls.crt",
                       "--tls-key-file=/tls/tls.key", "--tls-server-name=shuffle.svc"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tls.ca_file, "/tls/ca.crt");
  EXPECT_EQ(o->tls.cert_file, "/tls/tls.crt");
  EXPECT_EQ(o->tls.key_file, "/tls/tls.key");
  EXPECT_EQ(o->tls.server_name, "shuffle.svc");
  EXPECT_FALSE(ParseCtlOptions({"health"})->tls.enabled());
  EXPECT_THAT(Error({"health", "--tls-server-name=x"}), HasSubstr("need --tls-ca-file"));
  EXPECT_THAT(Error({"health", "--tls-ca-file=/ca", "--tls-cert-file=/c"}), HasSubstr("key"));
}

TEST(CtlOptionsTest, CommandsAndTheirArguments) {
  absl::StatusOr<CtlOptions> status = ParseCtlOptions({"status"});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->command, Command::kStatus);
  EXPECT_EQ(status->server, "127.0.0.1:7338");
  EXPECT_FALSE(status->json);
  EXPECT_EQ(RpcTimeoutSeconds(*status), 30u);

  absl::StatusOr<CtlOptions> scrub = ParseCtlOptions(
      {"--server=10.0.0.1:9000", "scrub", "app-1", "7", "--json", "--secret-file", "/s"});
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_EQ(scrub->command, Command::kScrub);
  EXPECT_EQ(scrub->app_id, "app-1");
  EXPECT_EQ(scrub->shuffle_id, 7u);
  EXPECT_EQ(scrub->server, "10.0.0.1:9000");
  EXPECT_EQ(scrub->secret_file, "/s");
  EXPECT_TRUE(scrub->json);
  EXPECT_EQ(RpcTimeoutSeconds(*scrub), 3600u);

  EXPECT_EQ(ParseCtlOptions({"shuffles", "app-1"})->app_id, "app-1");
  EXPECT_EQ(ParseCtlOptions({"remove-app", "--", "-odd-id"})->app_id, "-odd-id");
  EXPECT_EQ(ParseCtlOptions({"apps", "--timeout-seconds=5"})->timeout_seconds, 5u);
}

TEST(CtlOptionsTest, DrainTimeoutIsTheServersWaitPlusAMargin) {
  absl::StatusOr<CtlOptions> drain = ParseCtlOptions({"drain", "--timeout-seconds", "20"});
  ASSERT_TRUE(drain.ok()) << drain.status();
  EXPECT_EQ(DrainTimeoutSeconds(*drain), 20u);
  EXPECT_EQ(RpcTimeoutSeconds(*drain), 50u);
  absl::StatusOr<CtlOptions> server_default = ParseCtlOptions({"drain"});
  EXPECT_EQ(DrainTimeoutSeconds(*server_default), 0u);
  EXPECT_EQ(RpcTimeoutSeconds(*server_default), 3600u);
}

TEST(CtlOptionsTest, DecommissionTakesPeers) {
  absl::StatusOr<CtlOptions> o = ParseCtlOptions(
      {"decommission", "--peer=10.0.0.8", "--peer", "a:1/a:2,b", "--timeout-seconds=90"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->command, Command::kDecommission);
  ASSERT_EQ(o->peers.size(), 3u);
  EXPECT_EQ(o->peers[0].data_address, "10.0.0.8:7340");
  EXPECT_EQ(o->peers[0].control_address, "10.0.0.8:7338");
  EXPECT_EQ(o->peers[1].control_address, "a:2");
  EXPECT_EQ(o->peers[2].data_address, "b:7340");
  EXPECT_EQ(DrainTimeoutSeconds(*o), 90u);
  EXPECT_EQ(RpcTimeoutSeconds(*o), 120u);
  EXPECT_THAT(Error({"decommission"}), HasSubstr("decommission needs --peer"));
  EXPECT_THAT(Error({"decommission", "--peer=a:1"}), HasSubstr("--peer"));
  EXPECT_THAT(Error({"status", "--peer=a"}), HasSubstr("--peer is for decommission only"));
  EXPECT_THAT(Usage(Command::kDecommission), HasSubstr("Usage: shufflectl [flags] decommission"));
}

TEST(CtlOptionsTest, AdoptTakesANode) {
  absl::StatusOr<CtlOptions> o = ParseCtlOptions({"adopt", "ip-10-0-0-7"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->command, Command::kAdopt);
  EXPECT_EQ(o->node, "ip-10-0-0-7");
  EXPECT_TRUE(o->app_id.empty());
  EXPECT_EQ(RpcTimeoutSeconds(*o), kDefaultAdoptTimeoutSeconds);
  EXPECT_THAT(Error({"adopt"}), HasSubstr("NODE"));
  EXPECT_THAT(Error({"adopt", ""}), HasSubstr("NODE is empty"));
  EXPECT_THAT(Usage(Command::kAdopt), HasSubstr("--adopt-root"));
}

TEST(CtlOptionsTest, UsageErrorsSayWhatIsWrong) {
  EXPECT_THAT(Error({}), HasSubstr("no command given"));
  EXPECT_THAT(Error({"stat"}), HasSubstr("unknown command 'stat'"));
  EXPECT_THAT(Error({"scrub", "app-1"}), HasSubstr("scrub needs APP_ID SHUFFLE_ID"));
  EXPECT_THAT(Error({"shuffles"}), HasSubstr("shuffles needs APP_ID"));
  EXPECT_THAT(Error({"status", "extra"}), HasSubstr("unexpected argument 'extra' for status"));
  EXPECT_THAT(Error({"scrub", "app", "x7"}), HasSubstr("SHUFFLE_ID 'x7': expected a whole number"));
  EXPECT_THAT(Error({"scrub", "app", "4294967296"}), HasSubstr("SHUFFLE_ID"));
  EXPECT_THAT(Error({"remove-app", ""}), HasSubstr("APP_ID is empty"));
  EXPECT_THAT(Error({"status", "--bogus"}), HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(Error({"status", "-x"}), HasSubstr("unknown flag -x"));
  EXPECT_THAT(Error({"status", "--server"}), HasSubstr("--server needs a value"));
  EXPECT_THAT(Error({"status", "--server="}), HasSubstr("--server is empty"));
  EXPECT_THAT(Error({"status", "--json=yes"}), HasSubstr("--json takes no value"));
  EXPECT_THAT(Error({"status", "--timeout-seconds=0"}), HasSubstr("from 1 to 86400"));
  EXPECT_THAT(Error({"help", "nope"}), HasSubstr("unknown command 'nope'"));
}

TEST(CtlOptionsTest, HelpOverallAndPerCommand) {
  absl::StatusOr<CtlOptions> help = ParseCtlOptions({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  EXPECT_FALSE(help->help_command.has_value());
  EXPECT_EQ(ParseCtlOptions({"scrub", "--help"})->help_command, Command::kScrub);
  EXPECT_EQ(ParseCtlOptions({"help", "drain"})->help_command, Command::kDrain);
  EXPECT_TRUE(ParseCtlOptions({"-h", "scrub"})->help);  // arguments not needed for help

  const std::string overview = Usage();
  for (const char* command : {"status", "apps", "shuffles APP_ID", "remove-app APP_ID",
                              "scrub APP_ID SHUFFLE_ID", "drain"}) {
    EXPECT_THAT(overview, HasSubstr(command));
  }
  EXPECT_THAT(overview, HasSubstr("--secret-file"));
  EXPECT_THAT(overview, HasSubstr("Exit codes"));
  EXPECT_THAT(Usage(Command::kScrub),
              HasSubstr("Usage: shufflectl [flags] scrub APP_ID SHUFFLE_ID"));
  EXPECT_THAT(Usage(Command::kDrain), HasSubstr("--drain-timeout-seconds"));
}

}  // namespace
}  // namespace shuffle::shufflectl
