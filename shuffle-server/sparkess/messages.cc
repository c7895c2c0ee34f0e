#include "shuffle-server/sparkess/messages.h"

#include "absl/strings/str_cat.h"
#include "shuffle-server/sparkess/wire.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::sparkess {
namespace {

absl::StatusOr<BlockMessage> DecodeRegister(WireReader& in) {
  RegisterExecutor m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("RegisterExecutor appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.exec_id, in.String("RegisterExecutor execId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.info.local_dirs, in.StringArray("ExecutorShuffleInfo localDirs"));
  SHUFFLE_ASSIGN_OR_RETURN(m.info.sub_dirs_per_local_dir,
                           in.Int("ExecutorShuffleInfo subDirsPerLocalDir"));
  SHUFFLE_ASSIGN_OR_RETURN(m.info.shuffle_manager, in.String("ExecutorShuffleInfo shuffleManager"));
  return m;
}

absl::StatusOr<BlockMessage> DecodeOpen(WireReader& in) {
  OpenBlocks m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("OpenBlocks appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.exec_id, in.String("OpenBlocks execId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.block_ids, in.StringArray("OpenBlocks blockIds"));
  return m;
}

absl::StatusOr<BlockMessage> DecodeFetch(WireReader& in) {
  FetchShuffleBlocks m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("FetchShuffleBlocks appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.exec_id, in.String("FetchShuffleBlocks execId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.shuffle_id, in.Int("FetchShuffleBlocks shuffleId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.map_ids, in.LongArray("FetchShuffleBlocks mapIds"));
  SHUFFLE_ASSIGN_OR_RETURN(int32_t n, in.Int("FetchShuffleBlocks reduceIds"));
  if (n < 0 || static_cast<size_t>(n) != m.map_ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed FetchShuffleBlocks: ", m.map_ids.size(), " map ids but ", n,
                     " reduce id lists"));
  }
  m.reduce_ids.reserve(m.map_ids.size());
  for (int32_t i = 0; i < n; ++i) {
    SHUFFLE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, in.IntArray("FetchShuffleBlocks reduceIds"));
    m.reduce_ids.push_back(std::move(ids));
  }
  SHUFFLE_ASSIGN_OR_RETURN(m.batch_fetch, in.Bool("FetchShuffleBlocks batchFetchEnabled"));
  for (const std::vector<int32_t>& ids : m.reduce_ids) {
    if (m.batch_fetch && ids.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed FetchShuffleBlocks: a batch fetch needs [start, end) reduce id pairs, got ",
          ids.size(), " ids"));
    }
  }
  return m;
}

absl::StatusOr<BlockMessage> DecodeRemove(WireReader& in) {
  RemoveBlocks m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("RemoveBlocks appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.exec_id, in.String("RemoveBlocks execId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.block_ids, in.StringArray("RemoveBlocks blockIds"));
  return m;
}

absl::StatusOr<BlockMessage> DecodeLocalDirs(WireReader& in) {
  GetLocalDirsForExecutors m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("GetLocalDirsForExecutors appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.exec_ids, in.StringArray("GetLocalDirsForExecutors execIds"));
  return m;
}

absl::StatusOr<BlockMessage> DecodeDiagnose(WireReader& in) {
  DiagnoseCorruption m;
  SHUFFLE_ASSIGN_OR_RETURN(m.app_id, in.String("DiagnoseCorruption appId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.exec_id, in.String("DiagnoseCorruption execId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.shuffle_id, in.Int("DiagnoseCorruption shuffleId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.map_id, in.Long("DiagnoseCorruption mapId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.reduce_id, in.Int("DiagnoseCorruption reduceId"));
  SHUFFLE_ASSIGN_OR_RETURN(m.checksum, in.Long("DiagnoseCorruption checksum"));
  SHUFFLE_ASSIGN_OR_RETURN(m.algorithm, in.String("DiagnoseCorruption algorithm"));
  return m;
}

}  // namespace

absl::StatusOr<BlockMessage> DecodeBlockMessage(std::string_view body) {
  WireReader in(body);
  SHUFFLE_ASSIGN_OR_RETURN(int8_t type, in.Byte("block message type"));
  switch (static_cast<BlockMessageType>(type)) {
    case BlockMessageType::kRegisterExecutor:
      return DecodeRegister(in);
    case BlockMessageType::kOpenBlocks:
      return DecodeOpen(in);
    case BlockMessageType::kFetchShuffleBlocks:
      return DecodeFetch(in);
    case BlockMessageType::kRemoveBlocks:
      return DecodeRemove(in);
    case BlockMessageType::kGetLocalDirsForExecutors:
      return DecodeLocalDirs(in);
    case BlockMessageType::kDiagnoseCorruption:
      return DecodeDiagnose(in);
    case BlockMessageType::kUploadBlock:
    case BlockMessageType::kRegisterDriver:
    case BlockMessageType::kHeartbeat:
    case BlockMessageType::kUploadBlockStream:
    case BlockMessageType::kPushBlockStream:
    case BlockMessageType::kFinalizeShuffleMerge:
    case BlockMessageType::kFetchShuffleBlockChunks:
    case BlockMessageType::kRemoveShuffleMerge: {
      UnsupportedMessage m;
      m.type = static_cast<BlockMessageType>(type);
      // Every one of these starts with the application id.
      absl::StatusOr<std::string> app = in.String("appId");
      if (app.ok()) {
        m.app_id = *std::move(app);
      }
      return m;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("Unknown message type: ", type));
  }
}

std::string EncodeStreamHandle(int64_t stream_id, int32_t num_chunks) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kStreamHandle)).Long(stream_id).Int(num_chunks);
  return w.Take();
}

std::string EncodeBlocksRemoved(int32_t num_removed) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kBlocksRemoved)).Int(num_removed);
  return w.Take();
}

std::string EncodeLocalDirsForExecutors(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& dirs_by_executor) {
  std::vector<std::string> exec_ids;
  std::vector<int32_t> counts;
  std::vector<std::string> all_dirs;
  for (const auto& [exec, dirs] : dirs_by_executor) {
    exec_ids.push_back(exec);
    counts.push_back(static_cast<int32_t>(dirs.size()));
    all_dirs.insert(all_dirs.end(), dirs.begin(), dirs.end());
  }
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kLocalDirsForExecutors))
      .StringArray(exec_ids)
      .IntArray(counts)
      .StringArray(all_dirs);
  return w.Take();
}

std::string EncodeCorruptionCause(CorruptionCause cause) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kCorruptionCause)).Byte(static_cast<int8_t>(cause));
  return w.Take();
}

std::string EncodeRegisterExecutor(const RegisterExecutor& m) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kRegisterExecutor))
      .String(m.app_id)
      .String(m.exec_id)
      .StringArray(m.info.local_dirs)
      .Int(m.info.sub_dirs_per_local_dir)
      .String(m.info.shuffle_manager);
  return w.Take();
}

std::string EncodeFetchShuffleBlocks(const FetchShuffleBlocks& m) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kFetchShuffleBlocks))
      .String(m.app_id)
      .String(m.exec_id)
      .Int(m.shuffle_id)
      .Int(static_cast<int32_t>(m.map_ids.size()));
  for (int64_t id : m.map_ids) {
    w.Long(id);
  }
  w.Int(static_cast<int32_t>(m.reduce_ids.size()));
  for (const std::vector<int32_t>& ids : m.reduce_ids) {
    w.IntArray(ids);
  }
  w.Bool(m.batch_fetch);
  return w.Take();
}

std::string EncodeOpenBlocks(const OpenBlocks& m) {
  WireWriter w;
  w.Byte(static_cast<int8_t>(BlockMessageType::kOpenBlocks))
      .String(m.app_id)
      .String(m.exec_id)
      .StringArray(m.block_ids);
  return w.Take();
}

}  // namespace shuffle::sparkess
