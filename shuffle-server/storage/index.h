// The storage engine's index: a RocksDB database that records, durably, which shuffles exist,
// where every extent of a partition lies, which attempt of each map committed, and which regions
// of the commit logs still hold blocks not yet in a durable extent.
//
// Key layout (one column family; integers big-endian so byte order is numeric order):
//   'S' handle                          -> ShuffleRecord
//   'E' handle partition dir offset     -> ExtentRecord   (one prefix scan over 'E' handle
//                                                          partition returns a partition's
//                                                          extents per directory in disk order)
//   'C' handle map                      -> CommitRecord   (the first committed attempt wins)
//   'L' handle dir log_no offset        -> LogRecord
//   'M' name                            -> metadata (epoch, next shuffle handle)
//   'X' table '\0' key                  -> a side record of another server component (the
//                                          engine never reads them; see PutSideRecord)
//
// Thread-safety: an Index is safe to use from many threads; a Batch is not.
#ifndef SHUFFLE_SERVER_STORAGE_INDEX_H_
#define SHUFFLE_SERVER_STORAGE_INDEX_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace shuffle::storage {

// A registered shuffle. `handle` is the engine's internal, never-reused number for it.
struct ShuffleRecord {
  uint64_t handle = 0;
  std::string app_id;
  std::string namespace_name;
  uint32_t shuffle_id = 0;
  uint32_t num_partitions = 0;
  uint64_t created_unix_ms = 0;
  // The map stage is over (SealShuffle); set once, never cleared.
  bool sealed = false;
};

// One block inside an extent or a log region. Blocks lie back to back, in the listed order.
// (map, attempt, epoch) says which map attempt pushed it; `epoch` is the server run (incremented
// at each start) in which it was pushed, so blocks pushed before a crash can never be mistaken for
// blocks of a later run. `seq` numbers the blocks of one attempt in push order.
struct BlockEntry {
  uint32_t map = 0;
  uint32_t attempt = 0;
  uint32_t epoch = 0;
  uint32_t seq = 0;
  uint32_t partition = 0;
  uint32_t length = 0;
};

// A contiguous run of blocks of one partition in the segment file of (shuffle, dir).
// `length` is the sum of the block lengths; the bytes on disk may be padded after it.
struct ExtentRecord {
  uint64_t handle = 0;
  uint32_t partition = 0;
  uint32_t dir = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<BlockEntry> blocks;
};

// Per-partition totals of one committed attempt; only partitions with data are listed.
struct PartitionTotal {
  uint32_t partition = 0;
  uint64_t bytes = 0;
  uint32_t blocks = 0;
};

// The winning attempt of a map.
struct CommitRecord {
  uint64_t handle = 0;
  uint32_t map = 0;
  uint32_t attempt = 0;
  uint32_t epoch = 0;
  uint32_t num_partitions = 0;
  std::vector<PartitionTotal> partitions;
};

// A region of the commit log of (shuffle, dir) holding blocks of one committed attempt that were
// not yet in a durable extent when it committed. Deleted once they all are.
struct LogRecord {
  uint64_t handle = 0;
  uint32_t dir = 0;
  uint32_t log_no = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<BlockEntry> blocks;
};

struct IndexOptions {
  // RocksDB block cache and write buffer sizes; small defaults suit a sidecar on a node.
  uint64_t block_cache_bytes = 32u << 20;
  uint64_t write_buffer_bytes = 32u << 20;
};

class Index {
 public:
  // A set of changes applied atomically by Index::Write.
  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    void PutShuffle(const ShuffleRecord& record);
    void PutExtent(const ExtentRecord& record);
    void PutCommit(const CommitRecord& record);
    void PutLog(const LogRecord& record);
    void DeleteLog(uint64_t handle, uint32_t dir, uint32_t log_no, uint64_t offset);
    // Deletes the shuffle record and every extent, commit and log record of the shuffle.
    void DeleteShuffle(uint64_t handle);
    void PutEpoch(uint32_t epoch);
    void PutNextHandle(uint64_t next_handle);

    bool empty() const;
    // Drops every change, so the batch can be reused.
    void Clear();
    size_t count() const;

   private:
    friend class Index;
    std::unique_ptr<rocksdb::WriteBatch> batch_;
  };

  // Opens (creating when missing) the database in directory `path`.
  static absl::StatusOr<std::unique_ptr<Index>> Open(const std::string& path,
                                                     const IndexOptions& options = {});
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Applies `batch` atomically. With sync, the WAL is fsync'd before returning; concurrent
  // synced writes share one WAL sync (RocksDB's write group).
  absl::Status Write(Batch& batch, bool sync);

  // Metadata; 0 when never written.
  absl::StatusOr<uint32_t> LoadEpoch();
  absl::StatusOr<uint64_t> LoadNextHandle();

  // Visitors stop at and return the first non-OK status a callback returns.
  absl::Status ForEachShuffle(const std::function<absl::Status(const ShuffleRecord&)>& fn);
  absl::Status ForEachCommit(uint64_t handle,
                             const std::function<absl::Status(const CommitRecord&)>& fn);
  absl::Status ForEachLog(uint64_t handle, const std::function<absl::Status(const LogRecord&)>& fn);
  // Every extent of the shuffle, ordered by (partition, dir, offset).
  absl::Status ForEachExtent(uint64_t handle,
                             const std::function<absl::Status(const ExtentRecord&)>& fn);
  // Extents of partitions [partition_begin, partition_end), ordered by (partition, dir, offset):
  // one prefix scan per call.
  absl::StatusOr<std::vector<ExtentRecord>> ScanExtents(uint64_t handle, uint32_t partition_begin,
                                                        uint32_t partition_end);

  // Side records: other server components (the Spark listener's executor registry) keep their
  // own records in this database, under their `table` name (no '\0'), with values in a format
  // of their own (version it). The engine neither reads nor removes them.
  absl::Status PutSideRecord(std::string_view table, std::string_view key, std::string_view value,
                             bool sync);
  absl::Status DeleteSideRecord(std::string_view table, std::string_view key, bool sync);
  absl::Status ForEachSideRecord(
      std::string_view table,
      const std::function<absl::Status(std::string_view key, std::string_view value)>& fn);

  // Flushes memtables so the next Open does not replay the WAL (used on graceful shutdown).
  absl::Status Flush();

 private:
  explicit Index(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace shuffle::storage

#endif  // SHUFFLE_SERVER_STORAGE_INDEX_H_
