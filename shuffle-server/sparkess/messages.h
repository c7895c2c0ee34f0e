// The block-transfer messages of Spark's external shuffle service (Spark's
// common/network-shuffle BlockTransferMessage): the RPC bodies executors and reducers send, and
// the replies. Each body starts with a one-byte type. DecodeBlockMessage parses the messages a
// server receives; the Encode* functions build the replies. Pure functions: thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_MESSAGES_H_
#define SHUFFLE_SERVER_SPARKESS_MESSAGES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace shuffle::sparkess {

// Spark's BlockTransferMessage.Type ids.
enum class BlockMessageType : int8_t {
  kOpenBlocks = 0,
  kUploadBlock = 1,
  kRegisterExecutor = 2,
  kStreamHandle = 3,
  kRegisterDriver = 4,
  kHeartbeat = 5,
  kUploadBlockStream = 6,
  kRemoveBlocks = 7,
  kBlocksRemoved = 8,
  kFetchShuffleBlocks = 9,
  kGetLocalDirsForExecutors = 10,
  kLocalDirsForExecutors = 11,
  kPushBlockStream = 12,
  kFinalizeShuffleMerge = 13,
  kMergeStatuses = 14,
  kFetchShuffleBlockChunks = 15,
  kDiagnoseCorruption = 16,
  kCorruptionCause = 17,
  kPushBlockReturnCode = 18,
  kRemoveShuffleMerge = 19,
};

// Where an executor keeps its block files (Spark's ExecutorShuffleInfo).
struct ExecutorShuffleInfo {
  std::vector<std::string> local_dirs;
  int32_t sub_dirs_per_local_dir = 0;
  std::string shuffle_manager;

  friend bool operator==(const ExecutorShuffleInfo&, const ExecutorShuffleInfo&) = default;
};

struct RegisterExecutor {
  std::string app_id;
  std::string exec_id;
  ExecutorShuffleInfo info;
};

struct OpenBlocks {
  std::string app_id;
  std::string exec_id;
  std::vector<std::string> block_ids;
};

// With batch_fetch, reduce_ids[i] is {start, end}: one chunk holds reduce partitions
// [start, end) of map_ids[i]; otherwise each reduce id is a chunk of its own.
struct FetchShuffleBlocks {
  std::string app_id;
  std::string exec_id;
  int32_t shuffle_id = 0;
  std::vector<int64_t> map_ids;
  std::vector<std::vector<int32_t>> reduce_ids;
  bool batch_fetch = false;
};

struct RemoveBlocks {
  std::string app_id;
  std::string exec_id;
  std::vector<std::string> block_ids;
};

struct GetLocalDirsForExecutors {
  std::string app_id;
  std::vector<std::string> exec_ids;
};

struct DiagnoseCorruption {
  std::string app_id;
  std::string exec_id;
  int32_t shuffle_id = 0;
  int64_t map_id = 0;
  int32_t reduce_id = 0;
  int64_t checksum = 0;
  std::string algorithm;
};

// A message this server decodes only to refuse it (push-based shuffle, uploads, Mesos):
// its type and, when it has one, the application it names.
struct UnsupportedMessage {
  BlockMessageType type = BlockMessageType::kUploadBlock;
  std::string app_id;
};

using BlockMessage = std::variant<RegisterExecutor, OpenBlocks, FetchShuffleBlocks, RemoveBlocks,
                                  GetLocalDirsForExecutors, DiagnoseCorruption, UnsupportedMessage>;

// Decodes an RPC body. INVALID_ARGUMENT for an unknown type or a truncated or malformed body
// (negative counts, batch fetches whose reduce ids are not pairs, map and reduce lists of
// different lengths).
absl::StatusOr<BlockMessage> DecodeBlockMessage(std::string_view body);

// Spark's checksum.Cause ordinals.
enum class CorruptionCause : int8_t {
  kDiskIssue = 0,
  kNetworkIssue = 1,
  kUnknownIssue = 2,
  kChecksumVerifyPass = 3,
  kUnsupportedChecksumAlgorithm = 4,
};

std::string EncodeStreamHandle(int64_t stream_id, int32_t num_chunks);
std::string EncodeBlocksRemoved(int32_t num_removed);
std::string EncodeLocalDirsForExecutors(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& dirs_by_executor);
std::string EncodeCorruptionCause(CorruptionCause cause);

// Encoders of the requests, for tests and the fuzzer's corpus (the Java client is the real one).
std::string EncodeRegisterExecutor(const RegisterExecutor& m);
std::string EncodeFetchShuffleBlocks(const FetchShuffleBlocks& m);
std::string EncodeOpenBlocks(const OpenBlocks& m);

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_MESSAGES_H_
