// The real `shufflectl` binary against a real, secured `shuffle-server` process on loopback,
// after a shuffle was written with the client library: status, apps, shuffles, scrub (clean,
// then after a byte is flipped on disk), remove-app and drain, checking what they print (--json
// parsed with nlohmann-json) and their exit codes. Every process is killed by PID and every
// temporary directory removed, whatever happens. In the TLS run (tests/support/tls_run.h)
// shufflectl, the client library and the /metrics reads go through TLS.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "tests/support/files.h"
#include "tests/support/http.h"
#include "tests/support/program.h"
#include "tests/support/read_totals.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::client {
namespace {

using ::testing::HasSubstr;
using testsupport::ServerProcess;

constexpr char kApp[] = "ctl-app";
constexpr char kOperatorSecret[] = "ctl-operator-secret";
constexpr uint32_t kPartitions = 4;
constexpr uint32_t kMaps = 3;

// What a run of shufflectl printed and its exit code (-1: killed or timed out).
using CtlResult = testsupport::ProgramResult;

class ShufflectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    secret_file_ = dir_ + "/operator-secret";
    std::ofstream(dir_ + "/token-secret") << std::string(40, 't') << "\n";
    std::ofstream(secret_file_) << kOperatorSecret << "\n";
    auto server = ServerProcess::Start(
        SHUFFLE_SERVER_BINARY, dir_ + "/node", "ctl-node", "", "127.0.0.1:0",
        {"--secret-file=" + dir_ + "/token-secret", "--registration-secret-file=" + secret_file_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto token = server_->RegisterApplication(kApp, "team-ctl", kOperatorSecret);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
    ASSERT_TRUE(server_->RegisterShuffle(kApp, token_, 1, kPartitions).ok());
    for (uint32_t map = 0; map < kMaps; ++map) {
      auto status = WriteMap(map);
      ASSERT_TRUE(status.ok()) << status.status();
      statuses_.push_back(*status);
    }
    ASSERT_TRUE(server_->SealShuffle(kApp, token_, 1).ok());
  }

  void TearDown() override {
    server_.reset();  // SIGKILL; temp_ is removed after
  }

  ShuffleHandle Handle() const {
    return {.app_id = kApp,
            .token = token_,
            .shuffle = core::ShuffleId(1),
            .num_partitions = kPartitions};
  }
  ClientOptions Options() const {
    ClientOptions o = testsupport::WithRunTls({});
    o.server = server_->data_address();
    o.block_bytes = 16 << 10;
    return o;
  }

  absl::StatusOr<MapStatus> WriteMap(uint32_t map) {
    auto writer = MapOutputWriter::Open(Options(), Handle(), core::MapId(map), core::AttemptId(0));
    if (!writer.ok()) {
      return writer.status();
    }
    for (uint32_t i = 0; i < 2000; ++i) {
      const std::string key = std::to_string(map) + ":" + std::to_string(i);
      std::string value;
      for (uint64_t x = std::hash<std::string>{}(key); value.size() < 200;) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        value += std::to_string(x >> 33);
      }
      absl::Status st = (*writer)->Write(core::PartitionId(i % kPartitions), key, value);
      if (!st.ok()) {
        return st;
      }
    }
    auto committed = (*writer)->Commit();
    if (!committed.ok()) {
      return committed.status();
    }
    return committed->status;
  }

  absl::StatusOr<uint64_t> ReadAll() {
    auto reader = PartitionReader::Open(Options(), Handle(), core::PartitionId(0),
                                        core::PartitionId(kPartitions), statuses_);
    if (!reader.ok()) {
      return reader.status();
    }
    absl::StatusOr<testsupport::ReadTotals> read = testsupport::ReadToEnd(**reader);
    if (!read.ok()) {
      return read.status();
    }
    return read->records;
  }

  // Runs shufflectl against the server (--server and, with `secret`, --secret-file added).
  CtlResult Ctl(std::vector<std::string> args, bool secret = true) {
    args.insert(args.begin(), "--server=" + server_->control_address());
    if (secret) {
      args.insert(args.begin(), "--secret-file=" + secret_file_);
    }
    return RunCtl(args);
  }

  CtlResult RunCtl(std::vector<std::string> args) {
    const std::vector<std::string> tls = testsupport::RunCtlTlsArgs();
    args.insert(args.begin(), tls.begin(), tls.end());
    args.insert(args.begin(), SHUFFLECTL_BINARY);
    absl::StatusOr<CtlResult> run = testsupport::RunProgram(args, dir_, std::chrono::seconds(60));
    if (!run.ok()) {
      ADD_FAILURE() << run.status();
      return CtlResult();
    }
    return *std::move(run);
  }

  // The server's /metrics page ("" when it cannot be read, which the caller's check reports).
  std::string MetricsPage() const {
    absl::StatusOr<std::string> page = testsupport::HttpGetOk(
        *server_->ready().Find(core::ReadyFile::kMetrics), "/metrics", testsupport::RunCaFile());
    EXPECT_TRUE(page.ok()) << page.status();
    return page.value_or("");
  }

  static nlohmann::json Json(const CtlResult& r) {
    nlohmann::json parsed = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON:\n" << r.out << r.err;
    return parsed;
  }

  testsupport::TempDir temp_{"shufflectl-it-"};
  std::string dir_;
  std::string secret_file_;
  std::unique_ptr<ServerProcess> server_;
  std::string token_;
  std::vector<MapStatus> statuses_;
};

TEST_F(ShufflectlTest, StatusAppsAndShuffles) {
  CtlResult anonymous = Ctl({"status"}, /*secret=*/false);
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.out;
  EXPECT_THAT(anonymous.err, HasSubstr("operator call"));
  EXPECT_THAT(anonymous.err, HasSubstr("--secret-file"));

  CtlResult status = Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("node ctl-node"));
  EXPECT_THAT(status.out, HasSubstr("1 applications, 1 shuffles"));
  EXPECT_THAT(status.out, HasSubstr(dir_ + "/node/data"));
  EXPECT_THAT(status.out, HasSubstr("team-ctl"));
  const nlohmann::json status_json = Json(Ctl({"status", "--json"}));
  ASSERT_EQ(status_json["directories"].size(), 1u);
  EXPECT_GT(status_json["directories"][0]["used_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(status_json["directories"][0]["used_bytes"], status_json["applications"][0]["bytes"]);

  CtlResult apps = Ctl({"apps"});
  ASSERT_EQ(apps.exit_code, 0) << apps.err;
  EXPECT_THAT(apps.out, HasSubstr("APP ID"));
  EXPECT_THAT(apps.out, HasSubstr(kApp));
  const nlohmann::json apps_json = Json(Ctl({"--json", "apps"}));
  ASSERT_EQ(apps_json["applications"].size(), 1u);
  EXPECT_EQ(apps_json["applications"][0]["app_id"], kApp);
  EXPECT_EQ(apps_json["applications"][0]["namespace"], "team-ctl");
  EXPECT_EQ(apps_json["applications"][0]["shuffles"], 1);

  CtlResult shuffles = Ctl({"shuffles", kApp});
  ASSERT_EQ(shuffles.exit_code, 0) << shuffles.err;
  EXPECT_THAT(shuffles.out, HasSubstr("SEALED"));
  EXPECT_THAT(shuffles.out, HasSubstr("yes"));
  const nlohmann::json shuffles_json = Json(Ctl({"shuffles", kApp, "--json"}));
  ASSERT_EQ(shuffles_json["shuffles"].size(), 1u);
  EXPECT_EQ(shuffles_json["shuffles"][0]["shuffle_id"], 1);
  EXPECT_EQ(shuffles_json["shuffles"][0]["maps_committed"], kMaps);
  EXPECT_EQ(shuffles_json["shuffles"][0]["partitions"], kPartitions);
  EXPECT_EQ(shuffles_json["shuffles"][0]["sealed"], true);
  EXPECT_EQ(Ctl({"shuffles", "no-such-app"}).exit_code, 1);
}

TEST_F(ShufflectlTest, ScrubFindsAFlippedByteAndRemoveAppFreesEverything) {
  const nlohmann::json clean = Json(Ctl({"scrub", kApp, "1", "--json"}));
  EXPECT_EQ(clean["ok"], true);
  EXPECT_EQ(clean["maps"], kMaps);
  EXPECT_GT(clean["blocks_checked"].get<uint64_t>(), 0u);
  EXPECT_EQ(clean["blocks_checked"], clean["expected_blocks"]);
  EXPECT_TRUE(clean["corrupt"].empty());
  EXPECT_EQ(Ctl({"scrub", kApp, "1"}).exit_code, 0);

  // Flip one byte inside the first block of the segment file.
  std::string segment;
  for (const std::string& file : testsupport::FindFiles(dir_ + "/node/data", "data.seg")) {
    if (std::filesystem::file_size(file) > 200) {
      segment = file;
    }
  }
  ASSERT_FALSE(segment.empty());
  ASSERT_TRUE(testsupport::FlipByte(segment, 100).ok());
  CtlResult damaged = Ctl({"scrub", kApp, "1", "--json"});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.err;
  const nlohmann::json report = Json(damaged);
  EXPECT_EQ(report["ok"], false);
  EXPECT_EQ(report["corrupt_blocks"], 1);
  ASSERT_EQ(report["corrupt"].size(), 1u);
  const nlohmann::json& bad = report["corrupt"][0];
  EXPECT_EQ(bad["file"], segment);
  EXPECT_EQ(bad["offset"], 0);
  EXPECT_LT(bad["map_id"].get<uint32_t>(), kMaps);
  EXPECT_EQ(bad["attempt"], 0);
  EXPECT_LT(bad["partition"].get<uint32_t>(), kPartitions);
  EXPECT_THAT(bad["error"].get<std::string>(), HasSubstr("checksum mismatch"));
  CtlResult human = Ctl({"scrub", kApp, "1"});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_THAT(human.out, HasSubstr("DAMAGED"));
  EXPECT_THAT(human.out, HasSubstr(segment));

  CtlResult removed = Ctl({"remove-app", kApp});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_THAT(removed.out, HasSubstr("removed application ctl-app: freed"));
  EXPECT_EQ(Ctl({"apps"}).out, "no applications\n");
  const nlohmann::json after = Json(Ctl({"status", "--json"}));
  EXPECT_EQ(after["directories"][0]["used_bytes"], 0);
  CtlResult again = Ctl({"remove-app", kApp});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("not registered here"));
}

TEST_F(ShufflectlTest, DrainRefusesWritesKeepsReads) {
  CtlResult wrong = RunCtl({"--server=" + server_->control_address(), "drain",
                            "--secret-file=" + dir_ + "/token-secret"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("the operator secret is not valid"));
  EXPECT_THAT(wrong.err, HasSubstr("--secret-file does not hold this server's operator secret"));
  EXPECT_THAT(MetricsPage(), HasSubstr("shuffle_draining 0\n"));
  CtlResult healthy = Ctl({"health"}, /*secret=*/false);  // probes carry no secret
  EXPECT_EQ(healthy.exit_code, 0) << healthy.err;
  EXPECT_EQ(healthy.out, "SERVING\n");
  CtlResult drained = Ctl({"drain", "--timeout-seconds", "10"});
  ASSERT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_THAT(drained.out, HasSubstr("drained"));
  EXPECT_THAT(Ctl({"status"}).out, HasSubstr("DRAINING"));
  EXPECT_EQ(Json(Ctl({"status", "--json"}))["draining"], true);
  EXPECT_THAT(MetricsPage(), HasSubstr("shuffle_draining 1\n"));
  CtlResult unready = Ctl({"health", "--json"}, /*secret=*/false);
  EXPECT_EQ(unready.exit_code, 1);
  EXPECT_EQ(Json(unready)["status"], "NOT_SERVING");

  absl::StatusOr<MapStatus> refused = WriteMap(kMaps);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("server draining"));
  absl::StatusOr<uint64_t> records = ReadAll();
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(*records, 2000u * kMaps);
}

TEST_F(ShufflectlTest, UsageErrorsExitTwoAndHelpExitsZero) {
  CtlResult missing = RunCtl({"scrub", kApp});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("scrub needs APP_ID SHUFFLE_ID"));
  EXPECT_EQ(RunCtl({"frobnicate"}).exit_code, 2);
  CtlResult help = RunCtl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("remove-app APP_ID"));
  CtlResult scrub_help = RunCtl({"scrub", "--help"});
  EXPECT_EQ(scrub_help.exit_code, 0);
  EXPECT_THAT(scrub_help.out, HasSubstr("Usage: shufflectl [flags] scrub APP_ID SHUFFLE_ID"));
  EXPECT_EQ(RunCtl({"--secret-file=" + dir_ + "/missing", "status"}).exit_code, 2);
}

}  // namespace
}  // namespace shuffle::client
