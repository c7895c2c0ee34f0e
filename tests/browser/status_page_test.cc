// The status page (/status on a server's metrics port) in headless Chromium, driven through the
// DevTools protocol, against a real shuffle-server: the page loads with no console errors,
// exceptions or Content Security Policy violations, its figures follow the data a job pushes and
// fetches through the client library while the page is open, and a secured server shows nothing
// until the operator secret is given. Saves a screenshot (to $SHUFFLE_STATUS_PAGE_SCREENSHOT too
// when set: how docs/status-page.png is made).
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/proto/control.grpc.pb.h"
#include "tests/browser/chromium.h"
#include "tests/support/http.h"
#include "tests/support/read_totals.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace shuffle::browser {
namespace {

using nlohmann::json;
using testsupport::ServerProcess;

constexpr uint32_t kPartitions = 6;
// Bounds on waiting for the page to show something (it polls every 2 s; the charts sample
// every 2 s). Generous for a loaded machine; never a performance check.
constexpr absl::Duration kShowTimeout = absl::Seconds(60);

std::string Describe(const std::vector<PageProblem>& problems) {
  std::string out;
  for (const PageProblem& p : problems) {
    absl::StrAppend(&out, "\n  [", p.source, "] ", p.text);
  }
  return out;
}

// The number a figure of the page shows (its data-value).
std::string Figure(const std::string& id) {
  return absl::StrCat("Number(document.getElementById('", id, "').dataset.value || -1)");
}

class StatusPageTest : public ::testing::Test {
 protected:
  void StartServer(const std::vector<std::string>& args = {}) {
    auto server = ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/node", "node-7", "",
                                       "127.0.0.1:0", args);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    page_url_ = absl::StrCat("http://", server_->metrics_address(), "/status");
  }
  void StartBrowser() {
    auto browser = Chromium::Start(dir_.path() + "/chromium");
    ASSERT_TRUE(browser.ok()) << browser.status();
    browser_ = std::move(*browser);
  }
  double Number(std::string_view expression) {
    absl::StatusOr<json> value = browser_->Evaluate(expression);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() && value->is_number() ? value->get<double>() : -2;
  }
  void WaitUntil(std::string_view condition) {
    absl::Status shown = browser_->WaitUntil(condition, kShowTimeout);
    ASSERT_TRUE(shown.ok()) << shown << "; page problems:" << Describe(browser_->Problems());
  }
  // Writes and commits map `map` of `app`'s shuffle: `records` records over every partition.
  client::MapStatus WriteMap(const std::string& app, uint32_t shuffle, uint32_t map,
                             uint32_t records) {
    client::ClientOptions options;
    options.server = server_->data_address();
    options.block_bytes = 16 << 10;
    auto writer = client::MapOutputWriter::Open(options, Handle(app, shuffle), core::MapId(map),
                                                core::AttemptId(0));
    EXPECT_TRUE(writer.ok()) << writer.status();
    if (!writer.ok()) {
      return {};
    }
    for (uint32_t i = 0; i < records; ++i) {
      const std::string key = absl::StrCat(app, ":", map, ":", i);
      EXPECT_TRUE((*writer)
                      ->Write(core::PartitionId(i % kPartitions), key,
                              std::string(200 + i % 700, static_cast<char>('a' + i % 26)))
                      .ok());
    }
    auto committed = (*writer)->Commit();
    EXPECT_TRUE(committed.ok()) << committed.status();
    return committed.ok() ? committed->status : client::MapStatus{};
  }
  // Reads every partition of `app`'s shuffle; the records read.
  uint64_t ReadAll(const std::string& app, uint32_t shuffle,
                   const std::vector<client::MapStatus>& maps) {
    auto reader =
        client::PartitionReader::Open(client::ClientOptions{}, Handle(app, shuffle),
                                      core::PartitionId(0), core::PartitionId(kPartitions), maps);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) {
      return 0;
    }
    absl::StatusOr<testsupport::ReadTotals> read = testsupport::ReadToEnd(**reader);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? read->records : 0;
  }
  static client::ShuffleHandle Handle(const std::string& app, uint32_t shuffle) {
    return client::ShuffleHandle{.app_id = app,
                                 .token = "",
                                 .shuffle = core::ShuffleId(shuffle),
                                 .num_partitions = kPartitions};
  }

  testsupport::TempDir dir_{"shuffle-status-page-"};
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Chromium> browser_;  // destroyed before the server and the directory
  std::string page_url_;
};

TEST_F(StatusPageTest, ShowsTheLiveFiguresOfAJobWithNoConsoleErrors) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  ASSERT_TRUE(browser_->Navigate(page_url_).ok());
  ASSERT_NO_FATAL_FAILURE(
      WaitUntil("!document.getElementById('main').hidden && "
                "document.getElementById('node').textContent === 'node-7'"));
  EXPECT_EQ(Number(Figure("pushed-bytes")), 0);
  EXPECT_EQ(Number(Figure("commits")), 0);
  EXPECT_EQ(Number("document.querySelectorAll('#apps tr').length"), 0);

  // A first map output: the page shows its commit, its bytes and its application.
  ASSERT_TRUE(server_->RegisterShuffle("orders-etl", 1, kPartitions).ok());
  std::vector<client::MapStatus> maps;
  maps.push_back(WriteMap("orders-etl", 1, 0, 3000));
  ASSERT_NO_FATAL_FAILURE(WaitUntil(absl::StrCat(Figure("commits"), " === 1")));
  const double first_bytes = Number(Figure("pushed-bytes"));
  EXPECT_GT(first_bytes, 0);
  EXPECT_GT(Number(Figure("pushed-blocks")), 0);
  ASSERT_NO_FATAL_FAILURE(
      WaitUntil("[...document.querySelectorAll('#apps tr')].some((r) => "
                "r.cells[0].textContent === 'orders-etl' && r.cells[4].textContent === '1')"));

  // More maps, a second application: the figures move on.
  for (uint32_t m = 1; m < 4; ++m) {
    maps.push_back(WriteMap("orders-etl", 1, m, 3000 + 500 * m));
  }
  ASSERT_TRUE(server_->RegisterShuffle("clicks-daily", 3, kPartitions).ok());
  std::vector<client::MapStatus> clicks = {WriteMap("clicks-daily", 3, 0, 1500)};
  ASSERT_NO_FATAL_FAILURE(WaitUntil(absl::StrCat(Figure("commits"), " === 5")));
  EXPECT_GT(Number(Figure("pushed-bytes")), first_bytes);
  ASSERT_NO_FATAL_FAILURE(WaitUntil("document.querySelectorAll('#apps tr').length === 2"));
  EXPECT_EQ(Number(Figure("fetches")), 0);
  const double sent_before_reads = Number(Figure("sent-bytes"));  // push acknowledgements

  // Reads: fetches and bytes out.
  ASSERT_TRUE(server_->SealShuffle("orders-etl", 1).ok());
  EXPECT_EQ(ReadAll("orders-etl", 1, maps), 3000u + 3500 + 4000 + 4500);
  ASSERT_NO_FATAL_FAILURE(WaitUntil(
      absl::StrCat(Figure("fetches"), " > 0 && ", Figure("sent-bytes"), " > ", sent_before_reads)));
  ASSERT_NO_FATAL_FAILURE(
      WaitUntil("[...document.querySelectorAll('#apps tr')].some((r) => "
                "r.cells[0].textContent === 'orders-etl' && r.cells[5].textContent === 'yes')"));
  // The charts: a sample after the pushes and fetches draws a rate above zero (the line's y is
  // below the baseline at 88).
  for (const char* chart : {"commits", "bytes_in", "fetches", "bytes_out"}) {
    ASSERT_NO_FATAL_FAILURE(
        WaitUntil(absl::StrCat("(document.querySelector('#chart-", chart,
                               " polyline')?.getAttribute('points') || '')"
                               ".split(' ').some((p) => Number(p.split(',')[1]) < 88)")));
  }
  // Disk: the data directory, with the bytes on it.
  ASSERT_NO_FATAL_FAILURE(WaitUntil(
      "[...document.querySelectorAll('#dirs tr')].some((r) => r.cells[1].textContent !== '0 B')"));
  EXPECT_EQ(
      browser_->Evaluate("document.getElementById('drain-state').textContent")->get<std::string>(),
      "no");

  const std::vector<PageProblem> problems = browser_->Problems();
  EXPECT_TRUE(problems.empty()) << "the page reported:" << Describe(problems);

  absl::StatusOr<std::string> png = browser_->Screenshot();
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_GT(png->size(), 8u);
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::ofstream(dir_.path() + "/status-page.png", std::ios::binary) << *png;
  if (const char* keep = std::getenv("SHUFFLE_STATUS_PAGE_SCREENSHOT"); keep != nullptr) {
    std::ofstream out(keep, std::ios::binary);
    out << *png;
    EXPECT_TRUE(out.good()) << "cannot write " << keep;
  }
}

// A decommission: the node drains and hands its map outputs over to a peer; the page shows it.
TEST_F(StatusPageTest, ShowsADecommissionsHandOver) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto peer = ServerProcess::Start(SHUFFLE_SERVER_BINARY, dir_.path() + "/peer", "node-8");
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  ASSERT_TRUE(server_->RegisterShuffle("orders-etl", 1, kPartitions).ok());
  for (uint32_t m = 0; m < 3; ++m) {
    WriteMap("orders-etl", 1, m, 2000);
  }
  ASSERT_TRUE(browser_->Navigate(page_url_).ok());
  ASSERT_NO_FATAL_FAILURE(WaitUntil(absl::StrCat(Figure("commits"), " === 3")));
  EXPECT_EQ(*browser_->Evaluate("document.getElementById('handover-state').textContent"),
            json("none"));

  auto stub = proto::ShuffleControl::NewStub(
      grpc::CreateChannel(server_->control_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  proto::DecommissionRequest request;
  proto::Peer* to = request.add_peers();
  to->set_data_address((*peer)->data_address());
  to->set_control_address((*peer)->control_address());
  proto::DecommissionResponse response;
  const grpc::Status decommissioned = stub->Decommission(&context, request, &response);
  ASSERT_TRUE(decommissioned.ok()) << decommissioned.error_message();
  ASSERT_EQ(response.moved_size(), 3);

  ASSERT_NO_FATAL_FAILURE(
      WaitUntil("document.getElementById('handover-state').dataset.value === 'finished' && "
                "document.getElementById('state').textContent === 'draining'"));
  EXPECT_EQ(Number(Figure("handover-moved")), 3);
  EXPECT_EQ(Number(Figure("handover-unmoved")), 0);
  EXPECT_GT(Number(Figure("handover-bytes")), 0);
  EXPECT_EQ(Number(Figure("drain-state")), 1);
  const std::vector<PageProblem> problems = browser_->Problems();
  EXPECT_TRUE(problems.empty()) << "the page reported:" << Describe(problems);
}

// The check above can fail: a script the page did not ship is refused by its Content Security
// Policy, and the refusal is reported.
TEST_F(StatusPageTest, AnInjectedScriptIsRefusedAndReported) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  ASSERT_TRUE(browser_->Navigate(page_url_).ok());
  ASSERT_NO_FATAL_FAILURE(WaitUntil("!document.getElementById('main').hidden"));
  ASSERT_TRUE(browser_->Problems().empty()) << Describe(browser_->Problems());
  ASSERT_TRUE(browser_
                  ->Evaluate("const s = document.createElement('script');"
                             "s.textContent = 'window.injected = true'; document.body.append(s);"
                             "const i = document.createElement('img');"
                             "i.src = 'https://example.com/x.png'; document.body.append(i); 0")
                  .ok());
  ASSERT_NO_FATAL_FAILURE(WaitUntil("window.__cspViolations.length >= 2"));
  EXPECT_EQ(*browser_->Evaluate("window.injected === undefined"), json(true));
  bool script = false;
  bool image = false;
  for (const PageProblem& p : browser_->Problems()) {
    script = script || (p.source == "csp" && p.text.find("script-src") != std::string::npos);
    image = image || (p.source == "csp" && p.text.find("img-src") != std::string::npos);
  }
  EXPECT_TRUE(script && image) << Describe(browser_->Problems());
}

TEST_F(StatusPageTest, ASecuredServerShowsNothingWithoutTheOperatorSecret) {
  const std::string token_secret = dir_.path() + "/token-secret";
  const std::string operator_secret = dir_.path() + "/operator-secret";
  std::ofstream(token_secret) << std::string(48, 's') << "\n";
  std::ofstream(operator_secret) << "status-operator-pass\n";
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {"--secret-file=" + token_secret, "--registration-secret-file=" + operator_secret}));
  auto endpoint = core::Endpoint::Parse(server_->metrics_address());
  ASSERT_TRUE(endpoint.ok());
  auto raw = testsupport::HttpGet(*endpoint, "/status.json");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->status, 401);
  EXPECT_EQ(raw->body.find("node-7"), std::string::npos);

  ASSERT_NO_FATAL_FAILURE(StartBrowser());
  ASSERT_TRUE(browser_->Navigate(page_url_).ok());
  ASSERT_NO_FATAL_FAILURE(WaitUntil(
      "!document.getElementById('login').hidden && document.getElementById('main').hidden"));
  EXPECT_EQ(*browser_->Evaluate("document.getElementById('node').textContent"), json(""));
  EXPECT_EQ(*browser_->Evaluate("document.getElementById('pushed-bytes').textContent"), json("-"));

  // A wrong secret: refused, said so, nothing shown.
  ASSERT_TRUE(browser_
                  ->Evaluate("document.getElementById('secret').value = 'guess';"
                             "document.getElementById('login-form').requestSubmit(); 0")
                  .ok());
  ASSERT_NO_FATAL_FAILURE(
      WaitUntil("document.getElementById('login-error').textContent.includes('not valid')"));
  EXPECT_EQ(*browser_->Evaluate("document.getElementById('main').hidden"), json(true));
  EXPECT_EQ(*browser_->Evaluate("sessionStorage.length"), json(0));

  // The operator secret: the page opens.
  ASSERT_TRUE(browser_
                  ->Evaluate("document.getElementById('secret').value = 'status-operator-pass';"
                             "document.getElementById('login-form').requestSubmit(); 0")
                  .ok());
  ASSERT_NO_FATAL_FAILURE(
      WaitUntil("!document.getElementById('main').hidden && "
                "document.getElementById('node').textContent === 'node-7'"));
  EXPECT_EQ(*browser_->Evaluate("location.search + location.hash"), json(""));

  // The only problems: the refused fetches of /status.json (the browser logs each 401 and 403).
  for (const PageProblem& p : browser_->Problems()) {
    EXPECT_EQ(p.source, "network") << p.text;
    EXPECT_NE(p.text.find("/status.json"), std::string::npos) << p.text;
  }
}

}  // namespace
}  // namespace shuffle::browser
