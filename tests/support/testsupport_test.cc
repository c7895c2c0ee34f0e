// The test-support library itself: TempDir, RunProgram, FlipByte and FindFiles, HttpGet against a
// tiny server. (ServerProcess is exercised by every integration suite.)
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "shuffle/core/files.h"
#include "tests/support/files.h"
#include "tests/support/http.h"
#include "tests/support/program.h"
#include "tests/support/temp_dir.h"

namespace shuffle::testsupport {
namespace {

using ::testing::HasSubstr;

TEST(TempDirTest, MadeUniqueRemovedAndMovable) {
  std::string path;
  {
    TempDir dir("support/test-");
    path = dir.path();
    EXPECT_THAT(path, HasSubstr("support-test-"));
    EXPECT_TRUE(std::filesystem::is_directory(path));
    std::ofstream(dir.Sub("file")) << "x";
    TempDir other;
    EXPECT_NE(other.path(), path);
    TempDir moved = std::move(dir);
    EXPECT_EQ(moved.path(), path);
    EXPECT_TRUE(dir.path().empty());  // NOLINT(bugprone-use-after-move): the moved-from state
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(TempDir::Create("x-", "/nonexistent-parent").ok());
}

TEST(ProgramTest, CapturesOutputAndExitCode) {
  TempDir dir;
  absl::StatusOr<ProgramResult> r =
      RunProgram({"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 4"}, dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_EQ(r->out, "to-out\n");
  EXPECT_EQ(r->err, "to-err\n");
  absl::StatusOr<ProgramResult> slow =
      RunProgram({"/bin/sleep", "30"}, dir.path(), std::chrono::milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(slow.status())) << slow.status();
}

TEST(ProgramTest, AwaitServerReadyReportsAnEarlyExit) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<core::Process>> p =
      StartProgram({"/bin/sh", "-c", "exit 3"}, dir.Sub("out"), dir.Sub("err"));
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<core::ReadyFile> ready = AwaitServerReady(**p, dir.Sub("ready"));
  EXPECT_THAT(std::string(ready.status().message()),
              HasSubstr("shuffle-server exited during start (exit code 3)"));
}

TEST(FilesTest, FlipByteAndFindFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("a/b"));
  std::ofstream(dir.Sub("a/b/data.seg")) << "hello";
  std::ofstream(dir.Sub("a/other")) << "x";
  EXPECT_EQ(FindFiles(dir.path(), "data.seg"), std::vector<std::string>{dir.Sub("a/b/data.seg")});
  ASSERT_TRUE(FlipByte(dir.Sub("a/b/data.seg"), 1).ok());
  EXPECT_EQ(*core::ReadFileToString(dir.Sub("a/b/data.seg")),
            std::string("h") + char('e' ^ 0x5a) + "llo");
  EXPECT_TRUE(absl::IsOutOfRange(FlipByte(dir.Sub("a/b/data.seg"), 5)));
  EXPECT_TRUE(absl::IsNotFound(FlipByte(dir.Sub("nope"), 0)));
}

// Answers one connection with `response` after reading the request.
class OneShotHttpServer {
 public:
  explicit OneShotHttpServer(std::string response) : response_(std::move(response)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      const int conn = accept(fd_, nullptr, nullptr);
      char buf[4096];
      std::string request;
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(conn, buf, sizeof(buf));
        if (n <= 0) {
          break;
        }
        request.append(buf, static_cast<size_t>(n));
      }
      request_ = request;
      (void)!write(conn, response_.data(), response_.size());
      close(conn);
    });
  }
  ~OneShotHttpServer() {
    thread_.join();
    close(fd_);
  }
  OneShotHttpServer(const OneShotHttpServer&) = delete;
  OneShotHttpServer& operator=(const OneShotHttpServer&) = delete;
  uint16_t port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  std::string response_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(HttpTest, GetReturnsStatusAndBody) {
  std::string request;
  {
    OneShotHttpServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
    absl::StatusOr<HttpResponse> r = HttpGet(core::Endpoint::Tcp("127.0.0.1", server.port()), "/x");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, "nope");
    EXPECT_EQ(r->content_type, "");
    absl::StatusOr<std::string> ok = HttpGetOk(core::Endpoint::Tcp("127.0.0.1", 1), "/x");
    EXPECT_TRUE(absl::IsUnavailable(ok.status())) << ok.status();
  }
  OneShotHttpServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
  absl::StatusOr<HttpResponse> ok = HttpGet(core::Endpoint::Tcp("127.0.0.1", server.port()), "/z");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->content_type, "text/plain");
  EXPECT_EQ(ok->body, "ok");
  EXPECT_THAT(server.request(), HasSubstr("GET /z HTTP/1.1\r\n"));
}

}  // namespace
}  // namespace shuffle::testsupport
