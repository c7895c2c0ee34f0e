// Session: the Spark protocol state of one client connection (Spark's TransportRequestHandler,
// ExternalBlockHandler and OneForOneStreamManager, as this server implements them): RPCs
// (register executor, open blocks, fetch shuffle blocks, remove blocks, local dirs, corruption
// diagnosis), the streams they open and the chunks and streams fetched from them, and the
// application the connection authenticated as. Transport-free: a frame in, replies out.
//
// Not thread-safe: one connection's frames are handled one at a time. The Service it points to
// is shared and thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_SESSION_H_
#define SHUFFLE_SERVER_SPARKESS_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "shuffle-server/sparkess/auth.h"
#include "shuffle-server/sparkess/block_files.h"
#include "shuffle-server/sparkess/messages.h"
#include "shuffle-server/sparkess/registry.h"
#include "shuffle-server/sparkess/stats.h"
#include "shuffle-server/sparkess/wire.h"

namespace shuffle::sparkess {

// What every session shares.
struct Service {
  ExecutorRegistry* registry = nullptr;
  BlockFiles* files = nullptr;
  SparkEssCounters* counters = nullptr;
  // Non-null: spark.authenticate is on; every connection must authenticate first.
  const SecretSource* secrets = nullptr;
  std::atomic<int64_t>* next_stream_id = nullptr;
  int aes_engine_version = 1;  // spark.network.crypto.authEngineVersion of the clients
};

// One reply: `head` bytes, then `body` (a file range; length 0 for none). `close` ends the
// connection after the reply is written.
struct Reply {
  std::string head;
  FileSegment body;
  bool close = false;
};

class Session {
 public:
  explicit Session(const Service* service);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Handles one decoded request frame, appending its replies to `out`.
  void Handle(const Request& request, std::vector<Reply>* out);
  // A frame that failed to decode: Spark's failure reply when its request id is known, and
  // the connection closes.
  void HandleBadFrame(std::string_view head, const absl::Status& error, std::vector<Reply>* out);

  // After a completed handshake that negotiated encryption, the cipher for the rest of the
  // connection; taken once by the connection.
  std::unique_ptr<TransportCipher> TakeCipher() { return std::move(cipher_); }
  const std::optional<std::string>& authenticated_app() const { return app_; }

 private:
  // A block range of one stream: what one chunk serves.
  struct Chunk {
    int32_t shuffle_id = -1;  // -1: an RDD block
    int64_t map_id = 0;       // or the RDD id
    int32_t start = 0;        // reduce range, or the split
    int32_t end = 0;
  };
  struct Stream {
    std::string app_id;
    ExecutorShuffleInfo resolved;
    std::vector<Chunk> chunks;
    size_t next = 0;
  };

  absl::StatusOr<std::string> HandleRpc(const std::string& body, int64_t request_id,
                                        std::vector<Reply>* out);
  void HandleAuth(const Request& request, std::vector<Reply>* out);
  absl::Status CheckApp(const std::string& app_id) const;
  absl::StatusOr<Registration> FindExecutor(const std::string& app_id, const std::string& exec_id);
  absl::StatusOr<std::string> Register(const RegisterExecutor& m);
  absl::StatusOr<std::string> Open(const std::string& app_id, const std::string& exec_id,
                                   std::vector<Chunk> chunks);
  absl::StatusOr<std::string> OpenBlockIds(const OpenBlocks& m);
  absl::StatusOr<std::string> Remove(const RemoveBlocks& m);
  absl::StatusOr<std::string> LocalDirs(const GetLocalDirsForExecutors& m);
  absl::StatusOr<std::string> Diagnose(const DiagnoseCorruption& m);
  absl::StatusOr<FileSegment> NextChunk(int64_t stream_id, int32_t chunk_index);
  absl::StatusOr<FileSegment> Resolve(const ExecutorShuffleInfo& resolved, const Chunk& chunk);
  void AdviseWillNeed(const ExecutorShuffleInfo& resolved, const std::vector<Chunk>& chunks);

  const Service* const service_;
  std::optional<std::string> app_;  // authenticated application
  std::unique_ptr<ServerHandshake> handshake_;
  std::unique_ptr<TransportCipher> cipher_;
  absl::flat_hash_map<int64_t, Stream> streams_;
};

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_SESSION_H_
