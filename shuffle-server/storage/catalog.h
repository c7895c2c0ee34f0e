// The catalog: the shuffles the engine holds, by key, and in each the attempts that pushed in
// this run, the winning attempt of every committed map and the bytes charged to its namespace;
// the per-namespace usage that quotas are checked against; the next shuffle handle. It decides
// what a push or a commit of an attempt may do (the first committed attempt of a map wins).
//
// ShuffleState gathers one shuffle's parts: its record and attempts (catalog), its partition
// buffers (write_buffers.h), its segment files (segment_store.h) and its commit log
// (commit_log.h).
//
// Thread-safety: none of its own. The Catalog and every mutable field of a ShuffleState REQUIRE
// the engine's lock (the engine declares its catalog ABSL_GUARDED_BY its mutex); a shuffle's
// record (but `sealed`) and its segment files never change once it is published.
#ifndef SHUFFLE_SERVER_STORAGE_CATALOG_H_
#define SHUFFLE_SERVER_STORAGE_CATALOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/commit_log.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/index.h"
#include "shuffle-server/storage/segment_store.h"
#include "shuffle-server/storage/write_buffers.h"

namespace shuffle::storage {

// An attempt that has pushed in this run and not committed yet.
struct AttemptState {
  uint32_t next_seq = 0;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  std::vector<BlockPtr> small_blocks;
  std::vector<BlockPtr> direct_blocks;
  std::map<uint32_t, PartitionTotal> totals;
  absl::Status failure;  // non-OK once the attempt is aborted
  bool committing = false;
};

struct ShuffleState {
  ShuffleRecord record;
  std::vector<PartitionBuffer> partitions;               // one per partition
  absl::node_hash_map<uint64_t, AttemptState> attempts;  // by AttemptKey; stable addresses
  absl::flat_hash_map<uint32_t, CommitRecord> winners;   // map -> its winning attempt
  ShuffleSegments segments;
  CommitLog log;
  uint64_t stored_bytes = 0;  // block bytes charged to the namespace (pushed, or committed)
  absl::Time last_activity = absl::Now();
  bool removed = false;

  // Bytes written successfully (padding included) to its files in data directory `dir`, and in
  // all; a failed write's bytes are not counted (recovery cuts them off), a deleted log file's
  // are subtracted.
  uint64_t DirBytes(uint32_t dir) const;
  uint64_t DiskBytes() const;
};

std::string DescribeShuffle(const ShuffleState& shuffle);
std::string DescribeKey(const ShuffleKey& key);

// A namespace's quota in bytes; 0: unlimited.
uint64_t QuotaOf(const EngineOptions& options, std::string_view namespace_name);

class Catalog {
 public:
  // `options` (for quotas) must outlive the catalog.
  explicit Catalog(const EngineOptions& options) : options_(options) {}
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  ShufflePtr Find(const ShuffleKey& key) const;
  const absl::flat_hash_map<ShuffleKey, ShufflePtr>& shuffles() const { return shuffles_; }
  // Publishes a shuffle (registration, recovery), charging its stored bytes to its namespace.
  void Add(const ShuffleKey& key, ShufflePtr shuffle);
  // Unpublishes a shuffle, releases its namespace's bytes and marks it removed; null when unknown.
  ShufflePtr Remove(const ShuffleKey& key);

  uint64_t AllocateHandle() { return next_handle_++; }
  void SetNextHandle(uint64_t next_handle) { next_handle_ = next_handle; }

  // RESOURCE_EXHAUSTED when `incoming` more bytes would take the shuffle's namespace over its
  // quota.
  absl::Status CheckQuota(const ShuffleState& shuffle, uint64_t incoming) const;
  // Charges `bytes` of a push to the shuffle and its namespace.
  void Charge(ShuffleState& shuffle, uint64_t bytes);
  const std::map<std::string, uint64_t>& namespace_bytes() const { return namespace_bytes_; }

  // ALREADY_EXISTS when the map has a winner already: this attempt's output is not needed.
  static absl::Status CheckNotCommitted(const ShuffleState& shuffle, core::MapId map,
                                        core::AttemptId attempt);
  // The state of an attempt about to push (created at its first push), or why it may not: it
  // was aborted, or it is committing.
  static absl::StatusOr<AttemptState*> AttemptForPush(ShuffleState& shuffle, core::MapId map,
                                                      core::AttemptId attempt);

  // What to do with a commit request, judged when a round collects it.
  struct CommitVerdict {
    enum class Kind {
      kDone,     // answered now: `result`
      kWait,     // another attempt of the map commits in this round: answer after it
      kProceed,  // commit it; `attempt` is its state (null: it pushed nothing)
    };
    Kind kind = Kind::kDone;
    absl::StatusOr<CommitResult> result = absl::UnknownError("no verdict");
    AttemptState* attempt = nullptr;
  };
  // `map_in_round`: another attempt of this map commits in the round being collected.
  static CommitVerdict JudgeCommit(ShuffleState& shuffle, const CommitRequest& request,
                                   bool map_in_round);

 private:
  const EngineOptions& options_;
  absl::flat_hash_map<ShuffleKey, ShufflePtr> shuffles_;
  std::map<std::string, uint64_t> namespace_bytes_;
  uint64_t next_handle_ = 1;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_CATALOG_H_
