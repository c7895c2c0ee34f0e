#include "shuffle-server/dataplane/dataplane_test_util.h"

namespace shuffle::dataplane::testing {

Fetched ReadFetch(TestClient& client, uint64_t id) {
  Fetched out;
  for (int i = 0; i < 100000; ++i) {
    absl::StatusOr<core::Frame> frame = client.ReadFrame();
    if (!frame.ok()) {
      out.status = frame.status();
      return out;
    }
    if (frame->request_id != id) {
      out.status = absl::InternalError("frame for request " + std::to_string(frame->request_id));
      return out;
    }
    if (frame->type == core::FrameType::kFetchEnd) {
      out.end.ParseFromString(frame->header);
      return out;
    }
    if (frame->type == core::FrameType::kError) {
      proto::Error error;
      error.ParseFromString(frame->header);
      out.status = absl::Status(static_cast<absl::StatusCode>(error.code()), error.message());
      return out;
    }
    if (frame->type != core::FrameType::kFetchData) {
      out.status = absl::InternalError("unexpected frame type");
      return out;
    }
    proto::FetchData data;
    if (!data.ParseFromString(frame->header)) {
      out.status = absl::InternalError("bad FetchData header");
      return out;
    }
    ++out.data_frames;
    size_t offset = 0;
    for (const proto::BlockOrigin& origin : data.blocks()) {
      out.blocks.emplace_back(origin, frame->payload.substr(offset, origin.length()));
      offset += origin.length();
    }
    if (offset != frame->payload.size()) {
      out.status = absl::InternalError("FetchData lengths do not cover the payload");
      return out;
    }
  }
  out.status = absl::InternalError("too many frames");
  return out;
}

Blocks MakeMapBlocks(uint32_t shuffle, uint32_t map, uint32_t attempt, uint32_t partitions,
                     const std::vector<size_t>& sizes) {
  Blocks blocks;
  uint32_t seq = 0;
  for (uint32_t p = 0; p < partitions; ++p) {
    for (size_t size : sizes) {
      blocks.emplace_back(p, storage::testing::MakeBlock(shuffle, map, attempt, p, seq++, size));
    }
  }
  return blocks;
}

void DataPlaneTest::SetUp() {
  ASSERT_FALSE(dir_.path().empty());
  if (testsupport::TlsRun()) {
    absl::StatusOr<std::unique_ptr<tls::ReloadingServerContext>> context =
        tls::ReloadingServerContext::Create(testsupport::RunServerTls());
    ASSERT_TRUE(context.ok()) << context.status();
    tls_ = *std::move(context);
  }
  absl::StatusOr<std::unique_ptr<storage::StorageEngine>> engine =
      storage::StorageEngine::Open(storage::testing::SmallOptions(dir_.path()));
  ASSERT_TRUE(engine.ok()) << engine.status();
  engine_ = *std::move(engine);
}

void DataPlaneTest::TearDown() {
  server_.reset();
  tls_.reset();
  engine_.reset();
}

DataPlaneOptions DataPlaneTest::DefaultOptions() const {
  DataPlaneOptions options;
  options.listen_address = "127.0.0.1:0";
  options.socket_path = socket_path();
  options.node_name = "node-a";
  options.worker_threads = 3;
  options.tls = tls_.get();
  return options;
}

void DataPlaneTest::StartServer(const DataPlaneOptions& options) {
  absl::StatusOr<std::unique_ptr<DataPlaneServer>> server =
      DataPlaneServer::Start(options, engine_.get());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ASSERT_NE(server_->tcp_port(), 0);
}

void DataPlaneTest::Register(uint32_t shuffle, uint32_t partitions) {
  absl::Status status = engine_->RegisterShuffle(
      storage::ShuffleKey{core::AppId(kApp), core::ShuffleId(shuffle)}, "default", partitions);
  ASSERT_TRUE(status.ok()) << status;
}

std::unique_ptr<TestClient> DataPlaneTest::ConnectTcp(int receive_buffer) {
  absl::StatusOr<std::unique_ptr<TestClient>> client =
      TestClient::ConnectTcp(server_->tcp_port(), receive_buffer);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::unique_ptr<TestClient> DataPlaneTest::ConnectUnix() {
  absl::StatusOr<std::unique_ptr<TestClient>> client = TestClient::ConnectUnix(socket_path());
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

}  // namespace shuffle::dataplane::testing
