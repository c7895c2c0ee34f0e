// Smoke test of shuffle-bench: a --quick run into a temporary directory produces every figure
// and baseline in its JSON, both sweeps, no errors, and a PNG chart. Speed goals are not asserted
// here (they live in the benchmark's own report).
#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "shuffle/core/files.h"
#include "tests/support/program.h"
#include "tests/support/temp_dir.h"

namespace shuffle::bench {
namespace {

std::string ReadFile(const std::string& path) { return core::ReadFileToString(path).value_or(""); }

const nlohmann::json* FindNamed(const nlohmann::json& list, const std::string& name) {
  for (const nlohmann::json& item : list) {
    if (item.value("name", "") == name) {
      return &item;
    }
  }
  return nullptr;
}

TEST(ShuffleBenchTest, QuickRunReportsEveryFigureAndDrawsTheChart) {
  testsupport::TempDir tmp("bench-test-");
  const std::string out = tmp.Sub("out");
  absl::StatusOr<testsupport::ProgramResult> run = testsupport::RunProgram(
      {SHUFFLE_BENCH_BINARY, "--quick", "--out=" + out, "--dir=" + tmp.path()}, tmp.path(),
      std::chrono::seconds(280));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->out << run->err;

  const nlohmann::json report =
      nlohmann::json::parse(ReadFile(out + "/shuffle-bench.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "shuffle-bench.json is not JSON";
  EXPECT_TRUE(report["errors"].empty()) << report["errors"].dump();
  EXPECT_GT(report["machine"]["cores"].get<int>(), 0);
  EXPECT_FALSE(report["machine"]["file_system"].get<std::string>().empty());
  EXPECT_EQ(report["rounds"].get<int>(), 1);  // --quick: one round

  for (const char* name :
       {"disk_write", "disk_read", "tcp_loopback", "unix_stream", "spark_ess_blocks",
        "partition_mib", "empty_server_start", "job_without_eviction", "tcp_ingest_plaintext",
        "tcp_fetch_hot_plaintext", "ingest_one_copy"}) {
    const nlohmann::json* b = FindNamed(report["baselines"], name);
    ASSERT_NE(b, nullptr) << "baseline " << name << " missing";
    EXPECT_GT((*b)["value"].get<double>(), 0) << name;
  }
  for (const char* name :
       {"ingest_large", "fetch_cold", "fetch_hot_tcp", "fetch_hot_unix", "small_block_fetch",
        "small_block_disk_reads", "restart_unsealed", "restart_indexed", "evict_reduce",
        "tls_ingest", "tls_fetch_hot", "ingest_two_copies"}) {
    const nlohmann::json* f = FindNamed(report["figures"], name);
    ASSERT_NE(f, nullptr) << "figure " << name << " missing";
    EXPECT_GT((*f)["value"].get<double>(), 0) << name;
    EXPECT_GT((*f)["ratio"].get<double>(), 0) << name;
    EXPECT_FALSE((*f)["baseline"].get<std::string>().empty()) << name;
    EXPECT_TRUE((*f)["target"].contains("threshold")) << name;
    EXPECT_TRUE((*f)["met"].is_boolean()) << name;
    EXPECT_EQ((*f)["rounds"].size(), 1u) << name;
    EXPECT_EQ((*f)["ratio_min"].get<double>(), (*f)["ratio"].get<double>()) << name;
    EXPECT_TRUE((*f)["busy_rounds"].is_number()) << name;
  }
  // CPU and page faults per GiB beside the throughput figures and their baselines.
  for (const char* name : {"ingest_large", "fetch_cold", "fetch_hot_tcp", "fetch_hot_unix"}) {
    const nlohmann::json& details = (*FindNamed(report["figures"], name))["details"];
    for (const char* key :
         {"server_cpu_s_per_gib", "server_minflt_per_gib", "server_majflt_per_gib",
          "client_cpu_s_per_gib", "client_minflt_per_gib", "client_majflt_per_gib"}) {
      ASSERT_TRUE(details.contains(key)) << name << " " << key;
      EXPECT_GE(details[key].get<double>(), 0) << name << " " << key;
    }
  }
  // The server faults in at least the pages it receives payloads into.
  EXPECT_GT((*FindNamed(report["figures"], "ingest_large"))["details"]["server_minflt_per_gib"]
                .get<double>(),
            0);
  for (const char* name : {"disk_write", "disk_read", "tcp_loopback", "unix_stream"}) {
    const nlohmann::json& details = (*FindNamed(report["baselines"], name))["details"];
    EXPECT_TRUE(details.contains("process_cpu_s_per_gib")) << name;
    EXPECT_TRUE(details.contains("process_minflt_per_gib")) << name;
  }
  for (const char* name : {"push_ingest", "fetch"}) {
    const nlohmann::json* s = FindNamed(report["sweeps"], name);
    ASSERT_NE(s, nullptr) << "sweep " << name << " missing";
    ASSERT_EQ((*s)["points"].size(), 7u) << name;
    for (const nlohmann::json& point : (*s)["points"]) {
      EXPECT_GT(point["value"].get<double>(), 0) << name;
    }
  }

  const std::string png = ReadFile(out + "/shuffle-bench.png");
  ASSERT_GT(png.size(), 8u) << "shuffle-bench.png missing or empty";
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

}  // namespace
}  // namespace shuffle::bench
