#include "shuffle-client/frame_connection.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace shuffle::client {
namespace {

// A one-connection Unix-socket peer in a temporary directory that writes what the test gives it.
class Peer {
 public:
  Peer() {
    path_ = dir_.Sub("s");
    listener_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    path_.copy(sun.sun_path, sizeof(sun.sun_path) - 1);
    EXPECT_EQ(bind(listener_, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun)), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
  }
  ~Peer() {
    if (fd_ >= 0) {
      close(fd_);
    }
    close(listener_);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  std::unique_ptr<FrameConnection> Connect(uint32_t max_payload = 64u << 20) {
    auto conn = FrameConnection::Connect("unix:" + path_, 1000, 5000, max_payload);
    EXPECT_TRUE(conn.ok()) << conn.status();
    fd_ = accept(listener_, nullptr, nullptr);
    EXPECT_GE(fd_, 0);
    return conn.ok() ? std::move(*conn) : nullptr;
  }
  // Writes `bytes` in pieces of `piece` bytes.
  void Write(const std::string& bytes, size_t piece) const {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      const size_t n = std::min(piece, bytes.size() - at);
      ASSERT_EQ(send(fd_, bytes.data() + at, n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
    }
  }
  void Close() {
    close(fd_);
    fd_ = -1;
  }

 private:
  testsupport::TempDir dir_{"frame-conn-"};
  std::string path_;
  int listener_ = -1;
  int fd_ = -1;
};

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>(seed + i * 31 + i / 251);
  }
  return s;
}

TEST(FrameConnectionTest, ReceivesFramesOfEverySizeIntoTheCallersBuffer) {
  Peer peer;
  auto conn = peer.Connect();
  ASSERT_NE(conn, nullptr);
  const std::string big_payload = Bytes(3 << 20, 'a');  // far beyond the read-ahead stage
  const std::string big_header = Bytes(200 << 10, 'h');
  std::string stream = core::EncodeFrame(core::FrameType::kFetchData, 1, "h1", big_payload);
  stream += core::EncodeFrame(core::FrameType::kFetchData, 2, big_header, "p2");
  stream += core::EncodeFrame(core::FrameType::kFetchEnd, 3, "", "");
  stream += core::EncodeFrame(core::FrameType::kPong, 4, "h4", "p4");
  std::thread writer([&] { peer.Write(stream, 100000); });

  ByteBuffer payload;
  auto f1 = conn->ReceiveInto(&payload);
  ASSERT_TRUE(f1.ok()) << f1.status();
  EXPECT_EQ(f1->type, core::FrameType::kFetchData);
  EXPECT_EQ(f1->request_id, 1u);
  EXPECT_EQ(f1->header, "h1");
  EXPECT_EQ(payload.view(), big_payload);
  auto f2 = conn->ReceiveInto(&payload);  // the same buffer, reused
  ASSERT_TRUE(f2.ok()) << f2.status();
  EXPECT_EQ(f2->request_id, 2u);
  EXPECT_EQ(f2->header, big_header);
  EXPECT_EQ(payload.view(), "p2");
  auto f3 = conn->ReceiveInto(&payload);
  ASSERT_TRUE(f3.ok()) << f3.status();
  EXPECT_EQ(f3->type, core::FrameType::kFetchEnd);
  EXPECT_EQ(f3->header, "");
  EXPECT_EQ(payload.size(), 0u);
  auto f4 = conn->Receive();  // the copying form reads the same stream
  ASSERT_TRUE(f4.ok()) << f4.status();
  EXPECT_EQ(f4->request_id, 4u);
  EXPECT_EQ(f4->header, "h4");
  EXPECT_EQ(f4->payload, "p4");
  writer.join();
}

TEST(FrameConnectionTest, FramesArrivingByteByByte) {
  Peer peer;
  auto conn = peer.Connect();
  ASSERT_NE(conn, nullptr);
  const std::string stream = core::EncodeFrame(core::FrameType::kFetchData, 7, "head", "payload") +
                             core::EncodeFrame(core::FrameType::kFetchEnd, 8, "", "");
  std::thread writer([&] { peer.Write(stream, 1); });
  ByteBuffer payload;
  auto f1 = conn->ReceiveInto(&payload);
  ASSERT_TRUE(f1.ok()) << f1.status();
  EXPECT_EQ(f1->header, "head");
  EXPECT_EQ(payload.view(), "payload");
  auto f2 = conn->ReceiveInto(&payload);
  ASSERT_TRUE(f2.ok()) << f2.status();
  EXPECT_EQ(f2->request_id, 8u);
  writer.join();
}

TEST(FrameConnectionTest, ACorruptHeadBreaksTheConnectionForGood) {
  Peer peer;
  auto conn = peer.Connect();
  ASSERT_NE(conn, nullptr);
  std::string frame = core::EncodeFrame(core::FrameType::kFetchData, 1, "header", "payload");
  frame[core::kFramePrefixSize] ^= 0x40;  // inside the header the prefix checksum covers
  peer.Write(frame + core::EncodeFrame(core::FrameType::kFetchEnd, 2, "", ""), 1 << 20);
  ByteBuffer payload;
  auto first = conn->ReceiveInto(&payload);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDataLoss) << first.status();
  // The well-formed frame behind it is not returned: the stream cannot be trusted any more.
  auto second = conn->ReceiveInto(&payload);
  EXPECT_EQ(second.status(), first.status());
}

TEST(FrameConnectionTest, PayloadsBeyondTheLimitAreRefusedFromThePrefix) {
  Peer peer;
  auto conn = peer.Connect(/*max_payload=*/1024);
  ASSERT_NE(conn, nullptr);
  peer.Write(core::EncodeFrame(core::FrameType::kFetchData, 1, "", std::string(2048, 'x')),
             1 << 20);
  ByteBuffer payload;
  auto frame = conn->ReceiveInto(&payload);
  EXPECT_EQ(frame.status().code(), absl::StatusCode::kResourceExhausted) << frame.status();
}

TEST(FrameConnectionTest, APeerThatClosesIsUnavailable) {
  Peer peer;
  auto conn = peer.Connect();
  ASSERT_NE(conn, nullptr);
  const std::string frame = core::EncodeFrame(core::FrameType::kFetchData, 1, "h", "payload");
  peer.Write(frame.substr(0, frame.size() - 3), 1 << 20);  // cut inside the payload
  peer.Close();
  ByteBuffer payload;
  auto got = conn->ReceiveInto(&payload);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
}

}  // namespace
}  // namespace shuffle::client
