// ExecutorRegistry: the executors registered with the Spark listener (RegisterExecutor), their
// local directories, and when their application was last active. Registrations are written
// through a RegistryStore (the server's RocksDB index, as side records of table "spark-exec")
// before they are acknowledged, and reloaded at start, so a restarted server still serves every
// registered executor's files.
//
// Every registered local directory must lie under the allowed root (--spark-local-dirs-root):
// registration resolves it (realpath: no symlink or ".." can lead out) and refuses it otherwise.
//
// Thread-safe.
#ifndef SHUFFLE_SERVER_SPARKESS_REGISTRY_H_
#define SHUFFLE_SERVER_SPARKESS_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shuffle-server/sparkess/messages.h"

namespace shuffle::storage {
class Index;
}

namespace shuffle::sparkess {

// Where registrations persist. Values are opaque to the store.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  virtual absl::Status Put(std::string_view key, std::string_view value) = 0;
  virtual absl::Status Delete(std::string_view key) = 0;
  virtual absl::Status ForEach(
      const std::function<absl::Status(std::string_view key, std::string_view value)>& fn) = 0;
};

// The store over the server's RocksDB index (synced writes). `index` must outlive it.
std::unique_ptr<RegistryStore> IndexRegistryStore(storage::Index* index);
// An in-memory store, for tests.
std::unique_ptr<RegistryStore> MemoryRegistryStore();

// A registered executor: its directories as it registered them (what GetLocalDirsForExecutors
// returns) and as the server resolved them (what it serves from; under the root).
struct Registration {
  ExecutorShuffleInfo info;
  ExecutorShuffleInfo resolved;
  int64_t registered_unix_ms = 0;

  friend bool operator==(const Registration&, const Registration&) = default;
};

// The registry's persisted value format (version byte first), exposed for tests.
std::string EncodeRegistration(const Registration& r);
absl::StatusOr<Registration> DecodeRegistration(std::string_view v);

class ExecutorRegistry {
 public:
  // Loads every persisted registration. `root` is the allowed root, already resolved
  // (realpath); `store` must outlive the registry.
  static absl::StatusOr<std::unique_ptr<ExecutorRegistry>> Open(std::string root,
                                                                RegistryStore* store);
  ExecutorRegistry(const ExecutorRegistry&) = delete;
  ExecutorRegistry& operator=(const ExecutorRegistry&) = delete;

  // Validates (dirs under the root, 1..65536 sub-directories, ids without '\0'), persists, then
  // records the executor (replacing an earlier registration). INVALID_ARGUMENT or
  // PERMISSION_DENIED with a message the client sees.
  absl::Status Register(const std::string& app_id, const std::string& exec_id,
                        ExecutorShuffleInfo info);
  // The registration, marking the application active; nullopt when unknown.
  std::optional<Registration> Find(const std::string& app_id, const std::string& exec_id);
  // Removes the application's (or one executor's) registrations; returns how many.
  size_t RemoveApplication(const std::string& app_id) { return TakeApplication(app_id).size(); }
  // Removes the application's registrations and returns them.
  std::vector<Registration> TakeApplication(const std::string& app_id);
  bool RemoveExecutor(const std::string& app_id, const std::string& exec_id);
  // Removes applications not active for `ttl` (no registration or request); returns them with
  // their registrations (whose local dirs the caller may delete).
  std::vector<std::pair<std::string, std::vector<Registration>>> RemoveIdle(
      absl::Duration ttl, absl::Time now = absl::Now());

  size_t executors() const;
  size_t applications() const;
  const std::string& root() const { return root_; }

 private:
  struct App {
    absl::flat_hash_map<std::string, Registration> executors;
    absl::Time last_active;
  };
  ExecutorRegistry(std::string root, RegistryStore* store)
      : root_(std::move(root)), store_(store) {}
  absl::StatusOr<ExecutorShuffleInfo> Resolve(const std::string& app_id, const std::string& exec_id,
                                              const ExecutorShuffleInfo& info) const;
  void Unpersist(const std::string& app_id, const std::string& exec_id);

  const std::string root_;
  RegistryStore* const store_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, App> apps_;  // guarded by mu_
};

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_REGISTRY_H_
