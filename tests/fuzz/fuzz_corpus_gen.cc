// Writes the seed corpus of the fuzz targets, built with the project's own encoders:
//   fuzz_corpus_gen <corpus root>   (tests/fuzz/corpus; run it again after a wire-format change)
// writes <root>/<target>/seed-<name> files. Existing files (crashers kept as regression inputs)
// are left alone.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "shuffle-client/record_format.h"
#include "shuffle-server/dataplane/test_requests.h"
#include "shuffle/client/map_status.h"
#include "shuffle/core/block.h"
#include "shuffle/core/frame.h"
#include "shuffle/proto/data.pb.h"
#include "tests/fuzz/fuzz_util.h"

namespace shuffle::fuzz {
namespace {

using core::FrameType;

constexpr uint32_t kShuffle = 1;

using Seeds = std::vector<std::pair<std::string, std::string>>;  // (name, bytes)

std::string Records(int count, size_t value_size) {
  std::string raw;
  for (int i = 0; i < count; ++i) {
    client::AppendRecord(&raw, "key-" + std::to_string(i), std::string(value_size, 'v'));
  }
  return raw;
}

std::string Block(int records, size_t value_size) {
  std::string block;
  SHUFFLE_FUZZ_CHECK(
      core::EncodeBlock(Records(records, value_size), records, nullptr, &block).ok());
  return block;
}

using dataplane::testing::Blocks;

// Requests for the shuffle request_handler_fuzzer registers (dataplane::testing::kApp, kShuffle).
std::string Push(uint64_t id, uint32_t map, uint32_t attempt, const Blocks& blocks) {
  dataplane::testing::PushParts push = dataplane::testing::MakePush(kShuffle, map, attempt, blocks);
  return core::EncodeFrame(FrameType::kPushRequest, id, push.header.SerializeAsString(),
                           push.payload);
}

std::string Commit(uint64_t id, uint32_t map, uint32_t attempt, const Blocks& pushed) {
  return core::EncodeFrame(
      FrameType::kCommitRequest, id,
      dataplane::testing::MakeCommit(kShuffle, map, attempt, 4, pushed).SerializeAsString(), {});
}

std::string Fetch(uint64_t id, uint32_t partition_start, uint32_t partition_end,
                  uint32_t map_start = 0, uint32_t map_end = 0) {
  return core::EncodeFrame(
      FrameType::kFetchRequest, id,
      dataplane::testing::MakeFetch(kShuffle, partition_start, partition_end, map_start, map_end)
          .SerializeAsString(),
      {});
}

Seeds RequestHandlerSeeds() {
  const Blocks one = {{0, Block(3, 10)}};
  const Blocks many = {{0, Block(2, 5)}, {1, Block(4, 20)}, {3, Block(1, 200)}, {1, Block(1, 0)}};
  const Blocks big = {{2, Block(1, 5 << 10)}};  // over direct_block_bytes: its own extent
  std::string corrupt = Block(3, 10);
  corrupt.back() ^= 1;
  Seeds seeds = {
      {"push", Push(1, 0, 0, one)},
      {"push-many", Push(2, 1, 0, many)},
      {"push-commit", Push(3, 2, 0, many) + Commit(4, 2, 0, many)},
      {"push-commit-fetch", Push(5, 3, 0, one) + Commit(6, 3, 0, one) + Fetch(7, 0, 4)},
      {"push-big-commit-fetch", Push(8, 4, 0, big) + Commit(9, 4, 0, big) + Fetch(10, 2, 3)},
      {"two-attempts", Push(11, 5, 0, one) + Push(12, 5, 1, many) + Commit(13, 5, 1, many) +
                           Commit(14, 5, 0, one) + Fetch(15, 0, 4, 5, 6)},
      {"commit-mismatch", Push(16, 6, 0, one) + Commit(17, 6, 0, many)},
      {"commit-nothing", Commit(18, 7, 0, {})},
      {"fetch", Fetch(19, 0, 4)},
      {"fetch-range", Fetch(20, 1, 3, 0, 8)},
      {"fetch-empty-range", Fetch(21, 3, 1)},
      {"push-corrupt-block", Push(22, 8, 0, {{0, corrupt}})},
      {"push-bad-partition", Push(23, 9, 0, {{9, Block(1, 1)}})},
  };
  // A push cut short: the stream ends inside its payload.
  std::string bad_length = Push(24, 10, 0, one);
  bad_length.resize(bad_length.size() - 1);
  seeds.emplace_back("push-truncated", bad_length);
  // The same requests delivered in small chunks.
  Seeds chunked;
  for (const auto& [name, stream] : seeds) {
    chunked.emplace_back(name, MakeChunkedInput(0, 0, stream));
  }
  chunked.emplace_back("push-commit-fetch-chunked", MakeChunkedInput(7, 42, seeds[3].second));
  chunked.emplace_back("two-attempts-chunked", MakeChunkedInput(64, 7, seeds[5].second));
  return chunked;
}

Seeds FrameDecoderSeeds() {
  proto::PushResponse push_response;
  push_response.set_accepted_bytes(123);
  proto::CommitResponse commit_response;
  commit_response.set_won(true);
  commit_response.mutable_status()->set_node("node-a");
  commit_response.mutable_status()->add_partition_bytes(10);
  commit_response.mutable_status()->add_partition_blocks(1);
  proto::FetchData fetch_data;
  proto::BlockOrigin* origin = fetch_data.add_blocks();
  origin->set_map_id(1);
  origin->set_length(5);
  proto::FetchEnd fetch_end;
  fetch_end.set_blocks(1);
  fetch_end.set_bytes(5);
  proto::Error error;
  error.set_code(5);
  error.set_message("not found");
  const Blocks one = {{0, Block(1, 3)}};
  const std::string all =
      Push(1, 0, 0, one) + Commit(2, 0, 0, one) + Fetch(3, 0, 1) +
      core::EncodeFrame(FrameType::kPushResponse, 1, push_response.SerializeAsString(), {}) +
      core::EncodeFrame(FrameType::kCommitResponse, 2, commit_response.SerializeAsString(), {}) +
      core::EncodeFrame(FrameType::kFetchData, 3, fetch_data.SerializeAsString(), "abcde") +
      core::EncodeFrame(FrameType::kFetchEnd, 3, fetch_end.SerializeAsString(), {}) +
      core::EncodeFrame(FrameType::kError, 4, error.SerializeAsString(), {}) +
      core::EncodeFrame(FrameType::kPing, 5, {}, {}) +
      core::EncodeFrame(FrameType::kPong, 5, {}, {}, /*flags=*/3);
  std::string bad_checksum = core::EncodeFrame(FrameType::kPing, 6, "x", {});
  bad_checksum[24] ^= 1;
  std::string too_big = core::EncodeFrameHead(FrameType::kFetchData, 7, {}, 1u << 30);
  return {
      {"all-types", MakeChunkedInput(0, 0, all)},
      {"all-types-chunked", MakeChunkedInput(5, 1, all)},
      {"all-types-bytewise", MakeChunkedInput(1, 0, all)},
      {"push", MakeChunkedInput(0, 0, Push(9, 1, 0, one))},
      {"truncated", MakeChunkedInput(3, 9, all.substr(0, all.size() - 3))},
      {"bad-checksum", MakeChunkedInput(0, 0, bad_checksum)},
      {"payload-too-big", MakeChunkedInput(0, 0, too_big)},
      {"empty", MakeChunkedInput(0, 0, {})},
  };
}

Seeds RecordFormatSeeds() {
  std::string empty_key;
  client::AppendRecord(&empty_key, "", "value");
  client::AppendRecord(&empty_key, "key", "");
  std::string long_record;
  client::AppendRecord(&long_record, std::string(300, 'k'), std::string(1000, 'v'));
  return {{"records", Records(5, 8)},
          {"empty-fields", empty_key},
          {"long-record", long_record},
          {"truncated", Records(3, 8).substr(0, 20)},
          {"non-canonical-varint", std::string("\x81\x00\x80\x00k", 5)}};
}

Seeds MapStatusSeeds() {
  client::MapStatus status;
  status.node = "node-a";
  status.address = "10.0.0.5:7340";
  status.shuffle = core::ShuffleId(3);
  status.map = core::MapId(17);
  status.attempt = core::AttemptId(1);
  status.partition_bytes = {100, 0, 4096, 1};
  status.partition_blocks = {1, 0, 3, 1};
  client::MapStatus empty;
  client::MapStatus unix_socket = status;
  unix_socket.address = "unix:/run/shuffle.sock";
  unix_socket.partition_bytes = {UINT64_MAX, 1};
  unix_socket.partition_blocks = {UINT32_MAX, 1};
  return {{"status", status.Serialize()},
          {"empty", empty.Serialize()},
          {"unix-socket-overflowing-totals", unix_socket.Serialize()}};
}

bool Write(const std::filesystem::path& dir, const Seeds& seeds) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    std::fprintf(stderr, "fuzz_corpus_gen: cannot create %s: %s\n", dir.c_str(),
                 error.message().c_str());
    return false;
  }
  for (const auto& [name, bytes] : seeds) {
    const std::filesystem::path path = dir / ("seed-" + name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "fuzz_corpus_gen: cannot write %s\n", path.c_str());
      return false;
    }
  }
  std::printf("fuzz_corpus_gen: %zu seed(s) in %s\n", seeds.size(), dir.c_str());
  return true;
}

}  // namespace
}  // namespace shuffle::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_corpus_gen <corpus root, e.g. tests/fuzz/corpus>\n");
    return 2;
  }
  namespace fuzz = shuffle::fuzz;
  const std::filesystem::path root = argv[1];
  const bool ok = fuzz::Write(root / "frame_decoder", fuzz::FrameDecoderSeeds()) &&
                  fuzz::Write(root / "request_handler", fuzz::RequestHandlerSeeds()) &&
                  fuzz::Write(root / "record_format", fuzz::RecordFormatSeeds()) &&
                  fuzz::Write(root / "map_status", fuzz::MapStatusSeeds());
  return ok ? 0 : 1;
}
