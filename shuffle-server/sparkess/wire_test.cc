#include "shuffle-server/sparkess/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shuffle-server/sparkess/messages.h"

namespace shuffle::sparkess {
namespace {

std::string RpcFrameBody(int64_t id, const std::string& body) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(MessageType::kRpcRequest))
      .Long(id)
      .Int(static_cast<int32_t>(body.size()))
      .Raw(body);
  return w.Take();
}

TEST(WireTest, FetchShuffleBlocksRoundTrip) {
  FetchShuffleBlocks m{.app_id = "app-1",
                       .exec_id = "7",
                       .shuffle_id = 3,
                       .map_ids = {10, 11},
                       .reduce_ids = {{0, 4}, {2, 3}},
                       .batch_fetch = true};
  absl::StatusOr<Request> r = DecodeRequest(RpcFrameBody(42, EncodeFetchShuffleBlocks(m)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request_id, 42);
  absl::StatusOr<BlockMessage> decoded = DecodeBlockMessage(r->body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const auto& f = std::get<FetchShuffleBlocks>(*decoded);
  EXPECT_EQ(f.app_id, "app-1");
  EXPECT_EQ(f.exec_id, "7");
  EXPECT_EQ(f.shuffle_id, 3);
  EXPECT_THAT(f.map_ids, ::testing::ElementsAre(10, 11));
  EXPECT_EQ(f.reduce_ids, m.reduce_ids);
  EXPECT_TRUE(f.batch_fetch);
}

TEST(WireTest, BatchFetchNeedsPairs) {
  FetchShuffleBlocks m{.app_id = "a",
                       .exec_id = "1",
                       .map_ids = {1},
                       .reduce_ids = {{0, 1, 2}},
                       .batch_fetch = true};
  EXPECT_EQ(DecodeBlockMessage(EncodeFetchShuffleBlocks(m)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WireTest, TruncatedAndForgedCountsAreErrors) {
  const std::string body = EncodeRegisterExecutor(
      {.app_id = "a",
       .exec_id = "1",
       .info = {.local_dirs = {"/x"}, .sub_dirs_per_local_dir = 64, .shuffle_manager = "sort"}});
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(DecodeBlockMessage(body.substr(0, n)).ok()) << n;
  }
  EXPECT_TRUE(DecodeBlockMessage(body).ok());
  WireWriter forged;  // an OpenBlocks claiming 2^31-1 block ids
  forged.Byte(0).String("a").String("1").Int(INT32_MAX);
  EXPECT_THAT(std::string(DecodeBlockMessage(forged.data()).status().message()),
              ::testing::HasSubstr("truncated"));
}

TEST(WireTest, ResponsesFromClientsAreRefused) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(MessageType::kRpcResponse)).Long(1).Int(0);
  EXPECT_EQ(DecodeRequest(w.data()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(DecodeRequest(std::string(1, '\x63')).ok());
}

TEST(WireTest, ResponseFramesCountTheirBytes) {
  const std::string f = EncodeRpcFailure(9, "boom");
  EXPECT_EQ(f.size(), 8u + 1 + 8 + 4 + 4);
  EXPECT_EQ(WireReader(f).Long("len").value(), static_cast<int64_t>(f.size()));
  const std::string head = EncodeChunkFetchSuccessHead(5, 2, 1000);
  EXPECT_EQ(WireReader(head).Long("len").value(), static_cast<int64_t>(head.size() + 1000));
  const std::string stream = EncodeStreamResponse("5_2", 1000);
  EXPECT_EQ(WireReader(stream).Long("len").value(), static_cast<int64_t>(stream.size()));
  EXPECT_EQ(PeekRpcRequestId(RpcFrameBody(77, "")), 77);
}

}  // namespace
}  // namespace shuffle::sparkess
