// The YAML configuration file: its shapes, its errors (each naming the file, line and key), and
// how the command line overrides it.
#include "shuffle-server/server_config.h"

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shuffle-server/server_options.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "tests/support/temp_dir.h"

namespace shuffle::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using testsupport::TempDir;

std::optional<std::string> NoEnv(const char* /*name*/) { return std::nullopt; }

std::vector<std::pair<std::string, std::string>> Settings(std::string_view yaml) {
  absl::StatusOr<std::vector<ConfigSetting>> settings =
      ParseConfigYaml(yaml, "/etc/shuffle.yaml", ServerConfigSchema());
  EXPECT_TRUE(settings.ok()) << settings.status();
  std::vector<std::pair<std::string, std::string>> out;
  for (const ConfigSetting& s : settings.value_or(std::vector<ConfigSetting>{})) {
    out.emplace_back(s.flag, s.value);
  }
  return out;
}

std::string Error(std::string_view yaml) {
  absl::StatusOr<std::vector<ConfigSetting>> settings =
      ParseConfigYaml(yaml, "/etc/shuffle.yaml", ServerConfigSchema());
  EXPECT_FALSE(settings.ok()) << yaml;
  EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(settings.status().message());
}

TEST(ServerConfigTest, KeysMirrorTheFlags) {
  EXPECT_THAT(Settings("# comment\n"
                       "data-dirs: [/a, /b]\n"
                       "listen: 0.0.0.0:7000\n"
                       "memory-budget-mib: 512\n"
                       "socket: \"\"\n"
                       "namespace-quotas:\n"
                       "  team-a: 10240\n"
                       "  team-b: 2048\n"),
              ElementsAre(Pair("data-dir", "/a"), Pair("data-dir", "/b"),
                          Pair("listen", "0.0.0.0:7000"), Pair("memory-budget-mib", "512"),
                          Pair("socket", ""), Pair("namespace-quota-mib", "team-a=10240"),
                          Pair("namespace-quota-mib", "team-b=2048")));
  EXPECT_THAT(Settings("data-dirs:\n  - /a\n"), ElementsAre(Pair("data-dir", "/a")));
  EXPECT_THAT(Settings("data-dirs: /only\n"), ElementsAre(Pair("data-dir", "/only")));
  EXPECT_TRUE(Settings("").empty());
  EXPECT_TRUE(Settings("# nothing but a comment\n").empty());
  const ConfigSchema schema = ServerConfigSchema();
  EXPECT_TRUE(schema.contains("drain-timeout-seconds"));
  EXPECT_TRUE(schema.contains("registration-secret-file"));
  EXPECT_FALSE(schema.contains("config"));
  EXPECT_FALSE(schema.contains("data-dir"));
}

TEST(ServerConfigTest, ErrorsNameTheFileLineAndKey) {
  EXPECT_THAT(Error("listen: a\nno-such-key: 1\n"),
              HasSubstr("config file /etc/shuffle.yaml line 2: unknown key 'no-such-key'"));
  EXPECT_THAT(Error("data-dir: /a\n"), HasSubstr("did you mean 'data-dirs'?"));
  EXPECT_THAT(Error("--listen: a\n"), HasSubstr("did you mean 'listen'?"));
  EXPECT_THAT(Error("namespace-quota-mib: {a: 1}\n"), HasSubstr("did you mean 'namespace-quotas'"));
  EXPECT_THAT(Error("config: other.yaml\n"), HasSubstr("unknown key 'config'"));
  EXPECT_THAT(Error("listen: a\nlisten: b\n"), HasSubstr("line 2 key 'listen': is given twice"));
  EXPECT_THAT(Error("listen:\n"), HasSubstr("line 1 key 'listen': has no value"));
  EXPECT_THAT(Error("listen: [a, b]\n"), HasSubstr("expects a single value, not a list"));
  EXPECT_THAT(Error("listen: {a: b}\n"), HasSubstr("expects a single value, not a map"));
  EXPECT_THAT(Error("data-dirs: {a: b}\n"), HasSubstr("key 'data-dirs': expects a list"));
  EXPECT_THAT(Error("data-dirs: [[/a]]\n"), HasSubstr("list items must be single values"));
  EXPECT_THAT(Error("namespace-quotas: [a]\n"), HasSubstr("key 'namespace-quotas': expects a map"));
  EXPECT_THAT(Error("- listen\n"), HasSubstr("expected a map of settings"));
  EXPECT_THAT(Error("listen: a\ndata-dirs: [/a, /b\n"), HasSubstr("/etc/shuffle.yaml line "));
  EXPECT_THAT(Error("a: b: c\n"), HasSubstr("not valid YAML"));
}

class ServerConfigFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& yaml) {
    std::string path = dir_.path() + "/shuffle.yaml";
    std::ofstream(path) << yaml;
    return path;
  }
  TempDir dir_;
};

TEST_F(ServerConfigFileTest, CommandLineOverridesTheFile) {
  const std::string path = Write(
      "data-dirs: [/f1, /f2]\nlisten: 0.0.0.0:7000\nmin-free-mib: 64\n"
      "namespace-quotas: {team-a: 100, team-b: 200}\ndrain-timeout-seconds: 7\n");
  absl::StatusOr<ServerOptions> file_only = ParseServerOptions({"--config=" + path}, NoEnv, "h");
  ASSERT_TRUE(file_only.ok()) << file_only.status();
  EXPECT_THAT(file_only->data_dirs, ElementsAre("/f1", "/f2"));
  EXPECT_EQ(file_only->listen, "0.0.0.0:7000");
  EXPECT_EQ(file_only->min_free_mib, 64u);
  EXPECT_EQ(file_only->drain_timeout_seconds, 7u);
  EXPECT_EQ(file_only->config_file, path);

  absl::StatusOr<ServerOptions> both =
      ParseServerOptions({"--listen=127.0.0.1:1", "--config", path, "--data-dir=/c1",
                          "--data-dir=/c2", "--namespace-quota-mib=team-b=5"},
                         NoEnv, "h");
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->listen, "127.0.0.1:1");                   // a flag wins wherever it stands
  EXPECT_THAT(both->data_dirs, ElementsAre("/c1", "/c2"));  // and replaces the file's list
  EXPECT_EQ(both->min_free_mib, 64u);                       // the file's other settings stay
  EXPECT_THAT(both->namespace_quota_mib,
              UnorderedElementsAre(Pair("team-a", 100), Pair("team-b", 5)));
  EXPECT_EQ(ParseServerOptions({"--config=" + path}, NoEnv, "h")->drain_timeout_seconds, 7u);
}

TEST_F(ServerConfigFileTest, BadValuesInTheFileNameFileLineAndKey) {
  const std::string path = Write("data-dirs: [/a]\nmemory-budget-mib: lots\n");
  absl::Status status = ParseServerOptions({"--config=" + path}, NoEnv, "h").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("config file " + path +
                                          " line 2 key 'memory-budget-mib': "
                                          "--memory-budget-mib=lots: expected a whole number"));
  // The file's settings are validated like flags: no data directory at all.
  status = ParseServerOptions({"--config=" + Write("listen: 127.0.0.1:0\n")}, NoEnv, "h").status();
  EXPECT_THAT(status.message(), HasSubstr("--data-dir is required"));

  status = ParseServerOptions({"--config=" + dir_.path() + "/missing.yaml"}, NoEnv, "h").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(),
              HasSubstr("cannot read config file " + dir_.path() + "/missing.yaml: No such file"));
  status = ParseServerOptions({"--config=" + dir_.path()}, NoEnv, "h").status();
  EXPECT_THAT(status.message(), HasSubstr("is a directory"));
  // --help needs no readable file.
  EXPECT_TRUE(ParseServerOptions({"--config=/nonexistent", "--help"}, NoEnv, "h")->help);
}

}  // namespace
}  // namespace shuffle::server
