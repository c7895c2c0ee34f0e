// Metrics: the text writer's format, and a live scrape of a server that has served real pushes,
// commits and fetches, checked with `promtool check metrics` (from Debian's prometheus package,
// installed by tools/setup). In the TLS run (tests/support/tls_run.h) the data plane and /metrics
// serve TLS and the client and the scrapes check them with the run's CA.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle-server/dataplane/server.h"
#include "shuffle-server/ops/metrics_http_server.h"
#include "shuffle-server/ops/prometheus_text.h"
#include "shuffle-server/ops/server_metrics.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "tests/support/http.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_run.h"

namespace shuffle::ops {
namespace {

TEST(PrometheusTextTest, FamiliesAreGroupedAndLabelsEscaped) {
  PrometheusText page;
  page.Counter("b_total", "B.", 1, {{"k", "x"}});
  page.Gauge("a_bytes", "A.", 2);
  page.Counter("b_total", "B.", 3, {{"k", "say \"hi\"\n"}});
  EXPECT_EQ(page.Render(),
            "# HELP a_bytes A.\n# TYPE a_bytes gauge\na_bytes 2\n"
            "# HELP b_total B.\n# TYPE b_total counter\nb_total{k=\"x\"} 1\n"
            "b_total{k=\"say \\\"hi\\\"\\n\"} 3\n");
}

TEST(PrometheusTextTest, HistogramBucketsAreCumulative) {
  core::LatencyHistogram h;
  h.Observe(0.0001);
  h.Observe(0.003);
  h.Observe(100);
  PrometheusText page;
  page.Histogram("x_seconds", "X.", h.Take());
  const std::string text = page.Render();
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_count 3\n"), std::string::npos);
}

// GET http(s)://127.0.0.1:PORT/path; a response with status 0 when the exchange fails.
testsupport::HttpResponse HttpGet(uint16_t port, const std::string& path) {
  absl::StatusOr<testsupport::HttpResponse> r =
      testsupport::HttpGet(core::Endpoint::Tcp("127.0.0.1", port), path, testsupport::RunCaFile());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.value_or(testsupport::HttpResponse());
}

TEST(MetricsScrapeTest, LiveScrapePassesPromtool) {
  testsupport::TempDir dir;
  auto engine = storage::StorageEngine::Open(storage::testing::SmallOptions(dir.path()));
  ASSERT_TRUE(engine.ok()) << engine.status();
  const storage::ShuffleKey key{core::AppId("app"), core::ShuffleId(1)};
  ASSERT_TRUE((*engine)->RegisterShuffle(key, "team-a", 2).ok());
  std::unique_ptr<tls::ReloadingServerContext> tls;  // the TLS run's certificate
  if (testsupport::TlsRun()) {
    auto context = tls::ReloadingServerContext::Create(testsupport::RunServerTls());
    ASSERT_TRUE(context.ok()) << context.status();
    tls = *std::move(context);
  }
  dataplane::DataPlaneOptions options;
  options.listen_address = "127.0.0.1:0";
  options.tls = tls.get();
  auto server = dataplane::DataPlaneServer::Start(options, engine->get());
  ASSERT_TRUE(server.ok()) << server.status();

  // Real traffic: one map written and read back through the client library.
  client::ClientOptions client_options = testsupport::WithRunTls({});
  client_options.server = "127.0.0.1:" + std::to_string((*server)->tcp_port());
  client::ShuffleHandle handle{
      .app_id = "app", .token = "", .shuffle = core::ShuffleId(1), .num_partitions = 2};
  auto writer =
      client::MapOutputWriter::Open(client_options, handle, core::MapId(0), core::AttemptId(0));
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE((*writer)->Write(core::PartitionId(i % 2), "k" + std::to_string(i), "v").ok());
  }
  auto committed = (*writer)->Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  auto reader = client::PartitionReader::Open(client_options, handle, core::PartitionId(0),
                                              core::PartitionId(2), {committed->status});
  ASSERT_TRUE(reader.ok());
  std::string_view k;
  std::string_view v;
  int records = 0;
  while (*(*reader)->Next(&k, &v)) {
    ++records;
  }
  ASSERT_EQ(records, 1000);

  auto scrubbed = (*engine)->Scrub(key);
  ASSERT_TRUE(scrubbed.ok()) << scrubbed.status();
  MetricsSources sources{
      .engine = engine->get(),
      .data_dirs = {dir.path() + "/d0", dir.path() + "/d1"},
      .env = storage::Env::Default(),
      .dataplane = [&] { return (*server)->stats(); },
      // The Spark listener's figures (its own suites drive them for real).
      .spark =
          [] {
            sparkess::SparkEssStats s;
            s.registered_executors = 3;
            s.blocks_served = 42;
            return s;
          },
      // --token-review's figures (tests/k8s/token_review_test drives them).
      .token_reviews =
          [] { return TokenReviewStats{.reviews = 5, .cache_hits = 7, .refused = 1}; }};
  auto http = MetricsHttpServer::Start("127.0.0.1:0",
                                       {.metrics = [&] { return RenderServerMetrics(sources); },
                                        .status_json = nullptr,
                                        .authorize = nullptr},
                                       tls.get());
  ASSERT_TRUE(http.ok()) << http.status();
  // The fetch's latency is observed once its handler returns, which may be just after the
  // client read its last frame: scrape again (bounded) until the fetch is counted.
  const std::string fetch_counted = "shuffle_request_duration_seconds_count{kind=\"fetch\"} 1\n";
  testsupport::HttpResponse response;
  for (int attempt = 0; attempt < 100; ++attempt) {
    response = HttpGet((*http)->port(), "/metrics");
    if (response.status != 200 || response.body.find(fetch_counted) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_NE(response.content_type.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& body = response.body;
  EXPECT_NE(body.find("shuffle_commits_total 1\n"), std::string::npos) << body;
  EXPECT_NE(body.find(fetch_counted), std::string::npos);
  EXPECT_NE(body.find("shuffle_application_disk_bytes{app=\"app\",namespace=\"team-a\"}"),
            std::string::npos);
  EXPECT_NE(body.find("shuffle_directory_free_bytes{dir=\"" + dir.path() + "/d0\"}"),
            std::string::npos);
  EXPECT_NE(body.find("shuffle_directory_used_bytes{dir=\"" + dir.path() + "/d1\"}"),
            std::string::npos);
  EXPECT_NE(body.find("shuffle_scrubs_total 1\n"), std::string::npos);
  EXPECT_NE(body.find("shuffle_scrub_checked_blocks_total " +
                      std::to_string(scrubbed->blocks_checked) + "\n"),
            std::string::npos);
  EXPECT_NE(body.find("shuffle_scrub_corrupt_blocks_total 0\n"), std::string::npos);
  EXPECT_NE(body.find("shuffle_draining 0\n"), std::string::npos);
  // No Unix socket here, so no send buffer asked for (dataplane_sendfile_test checks the value).
  EXPECT_NE(body.find("shuffle_network_unix_send_buffer_bytes 0\n"), std::string::npos);
  EXPECT_NE(body.find("shuffle_spark_registered_executors 3\n"), std::string::npos);
  EXPECT_NE(body.find("shuffle_spark_blocks_served_total 42\n"), std::string::npos);
  EXPECT_NE(body.find("shuffle_token_review_cache_hits_total 7\n"), std::string::npos);
  EXPECT_NE(HttpGet((*http)->port(), "/healthz").body.find("ok"), std::string::npos);
  EXPECT_EQ(HttpGet((*http)->port(), "/nope").status, 404);

  const std::string file = dir.path() + "/scrape.txt";
  std::ofstream(file) << body;
  const std::string command = "promtool check metrics < " + file + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) {
    output.append(buf, n);
  }
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << "promtool check metrics failed:\n" << output;

  ASSERT_TRUE((*engine)->Drain(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_NE(HttpGet((*http)->port(), "/metrics").body.find("shuffle_draining 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace shuffle::ops
