// SendFileRange on a non-blocking socket pair: whole and partial sends, a full socket, the byte
// limit, a peer that has gone (an error, not a SIGPIPE) and a file shorter than its range.
#include "shuffle-server/dataplane/send_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include <sys/socket.h>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "tests/support/temp_dir.h"

namespace shuffle::dataplane {
namespace {

class SendFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BlockSigpipe();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets_), 0);
    ASSERT_EQ(fcntl(sockets_[0], F_SETFL, fcntl(sockets_[0], F_GETFL) | O_NONBLOCK), 0);
    const int small = 64 << 10;
    setsockopt(sockets_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    content_.resize(4 << 20);
    for (size_t i = 0; i < content_.size(); ++i) {
      content_[i] = static_cast<char>((i * 131) ^ (i >> 12));
    }
    const std::string path = dir_.path() + "/segment";
    file_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(file_, 0);
    ASSERT_EQ(write(file_, content_.data(), content_.size()),
              static_cast<ssize_t>(content_.size()));
  }
  void TearDown() override {
    close(file_);
    for (int fd : sockets_) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }

  // Reads everything the peer socket holds now.
  std::string Drain() {
    std::string out;
    char buffer[65536];
    while (true) {
      const ssize_t n = recv(sockets_[1], buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n <= 0) {
        return out;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
  }

  storage::FileRange Range(uint64_t offset, uint64_t length) const {
    return storage::FileRange{.fd = file_, .offset = offset, .length = length};
  }

  testsupport::TempDir dir_;
  int sockets_[2] = {-1, -1};
  int file_ = -1;
  std::string content_;
};

TEST_F(SendFileTest, ARangeThatFitsIsSentWhole) {
  const SendFileResult sent = SendFileRange(sockets_[0], Range(1000, 5000), UINT64_MAX);
  ASSERT_TRUE(sent.status.ok()) << sent.status;
  EXPECT_EQ(sent.bytes, 5000u);
  EXPECT_FALSE(sent.would_block);
  EXPECT_EQ(Drain(), content_.substr(1000, 5000));
}

TEST_F(SendFileTest, AFullSocketStopsTheSendAndItResumesWhereItStopped) {
  const storage::FileRange range = Range(12345, content_.size() - 12345);
  std::string received;
  uint64_t sent_total = 0;
  int waits = 0;
  while (sent_total < range.length) {
    const SendFileResult sent = SendFileRange(
        sockets_[0], Range(range.offset + sent_total, range.length - sent_total), UINT64_MAX);
    ASSERT_TRUE(sent.status.ok()) << sent.status;
    sent_total += sent.bytes;
    if (sent.would_block) {
      ++waits;
      EXPECT_LT(sent_total, range.length);
    }
    received += Drain();
  }
  received += Drain();
  EXPECT_GT(waits, 0) << "a 4 MiB range fit a 64 KiB socket buffer";
  EXPECT_EQ(received.size(), range.length);
  EXPECT_TRUE(received == content_.substr(range.offset)) << "bytes differ";
}

TEST_F(SendFileTest, StopsAtTheByteLimit) {
  const SendFileResult sent = SendFileRange(sockets_[0], Range(0, 20000), 3000);
  ASSERT_TRUE(sent.status.ok()) << sent.status;
  EXPECT_EQ(sent.bytes, 3000u);
  EXPECT_FALSE(sent.would_block);
  EXPECT_EQ(Drain(), content_.substr(0, 3000));
}

TEST_F(SendFileTest, APeerThatHasGoneIsAnErrorNotASignal) {
  close(sockets_[1]);
  sockets_[1] = -1;
  const SendFileResult sent = SendFileRange(sockets_[0], Range(0, 1 << 20), UINT64_MAX);
  EXPECT_FALSE(sent.status.ok());
  EXPECT_EQ(sent.bytes, 0u);
  EXPECT_TRUE(sent.peer_gone);
  EXPECT_NE(sent.status.message().find("sendfile"), std::string::npos) << sent.status;
  sigset_t pending;
  sigemptyset(&pending);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "the SIGPIPE was left pending";
}

TEST_F(SendFileTest, AFileShorterThanItsRangeIsDataLoss) {
  const SendFileResult sent =
      SendFileRange(sockets_[0], Range(content_.size() - 100, 1000), UINT64_MAX);
  EXPECT_EQ(sent.bytes, 100u);
  EXPECT_EQ(sent.status.code(), absl::StatusCode::kDataLoss) << sent.status;
  EXPECT_FALSE(sent.peer_gone);
  EXPECT_EQ(Drain(), content_.substr(content_.size() - 100));
}

}  // namespace
}  // namespace shuffle::dataplane
