// SparkEssServer: the listener that speaks Spark's external shuffle service protocol, so that
// unmodified Spark executors (spark.shuffle.service.enabled=true) register their local
// directories with this node's shuffle-server and reducers fetch their shuffle files from it.
// Boost.Asio, like the data plane: `io_threads` run every connection; a connection reads what
// the client sent, handles every whole frame in it (Session), then writes the replies (small
// file ranges read into one gathered write, larger ones with sendfile), then reads again, so a
// client cannot make the server buffer more than one read's replies.
//
// Thread-safety: public methods may be called from any thread except the server's own.
#ifndef SHUFFLE_SERVER_SPARKESS_SERVER_H_
#define SHUFFLE_SERVER_SPARKESS_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "shuffle-server/sparkess/auth.h"
#include "shuffle-server/sparkess/block_files.h"
#include "shuffle-server/sparkess/registry.h"
#include "shuffle-server/sparkess/session.h"
#include "shuffle-server/sparkess/stats.h"

namespace shuffle::storage {
class Index;
}

namespace shuffle::sparkess {

struct SparkEssOptions {
  std::string listen_address = "0.0.0.0:7337";  // HOST:PORT; port 0 picks one
  // Registered local dirs must lie under it (the hostPath executors' spark.local.dir is on).
  std::string local_dirs_root;
  // Largest request frame read; a larger one is answered with a failure and the connection
  // closed. Spark's own requests are far smaller (a FetchShuffleBlocks of 10,000 blocks is
  // about 100 KiB).
  uint64_t max_frame_bytes = 16u << 20;
  int io_threads = 2;
  // Applications with no registration or request for this long are forgotten and their
  // registered local dirs deleted (Spark removes applications only in standalone mode). 0: never.
  uint64_t app_ttl_minutes = 24 * 60;
  // spark.authenticate: the secrets (auth.h); both empty: no authentication.
  std::string secret_file;
  std::string secrets_dir;
  // spark.network.crypto.authEngineVersion the clients use (1, Spark's default, or 2).
  int aes_engine_version = 1;
};

class SparkEssServer {
 public:
  // Opens the registry (RocksDB side records through `index`, which must outlive the server),
  // binds and serves. Fails naming the flag when the root or the address is unusable.
  static absl::StatusOr<std::unique_ptr<SparkEssServer>> Start(const SparkEssOptions& options,
                                                               storage::Index* index);
  // For tests: the registry persists in `store` (must outlive the server).
  static absl::StatusOr<std::unique_ptr<SparkEssServer>> Start(const SparkEssOptions& options,
                                                               RegistryStore* store);
  ~SparkEssServer();
  SparkEssServer(const SparkEssServer&) = delete;
  SparkEssServer& operator=(const SparkEssServer&) = delete;

  // Closes the listener and every connection and joins the threads. Idempotent.
  void Stop();
  uint16_t port() const;
  SparkEssStats stats() const;
  ExecutorRegistry& registry() { return *registry_; }
  // Forgets idle applications now (the server also does it every few minutes).
  std::vector<std::string> ExpireIdleApplications(absl::Time now = absl::Now());

  struct Impl;

 private:
  SparkEssServer() = default;
  absl::Status Init(const SparkEssOptions& options, RegistryStore* store);
  void Accept();

  SparkEssOptions options_;
  std::unique_ptr<RegistryStore> owned_store_;
  std::unique_ptr<ExecutorRegistry> registry_;
  std::unique_ptr<BlockFiles> files_;
  std::unique_ptr<SecretSource> secrets_;
  SparkEssCounters counters_;
  std::atomic<int64_t> next_stream_id_{0};
  Service service_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_SERVER_H_
