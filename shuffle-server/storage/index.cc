#include "shuffle-server/storage/index.h"

#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "shuffle-server/storage/index_codec.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::storage {
namespace {

namespace codec = index_codec;
using core::ToAbsl;

rocksdb::Slice ToSlice(const std::string& s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

absl::StatusCode RocksCode(const rocksdb::Status& s) {
  if (s.IsNotFound()) {
    return absl::StatusCode::kNotFound;
  }
  if (s.IsCorruption()) {
    return absl::StatusCode::kDataLoss;
  }
  if (s.IsNoSpace()) {
    return absl::StatusCode::kResourceExhausted;
  }
  if (s.IsIOError() || s.IsBusy() || s.IsTryAgain()) {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

// Converts a RocksDB status at the boundary: "index <path>: <operation>: <rocksdb message>".
absl::Status FromRocks(const rocksdb::Status& s, std::string_view operation,
                       const std::string& path) {
  if (s.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(RocksCode(s),
                      absl::StrCat("index ", path, ": ", ToAbsl(operation), ": ", s.ToString()));
}

// Whether a failed DB::Open failed on the LOCK file, which another open DB holds.
bool IsLockFailure(const rocksdb::Status& s) {
  return s.IsIOError() && absl::StrContains(absl::AsciiStrToLower(s.ToString()), "lock");
}

// Visits every key in [begin, end) (no upper bound when `end` is empty) in order.
absl::Status Scan(rocksdb::DB* db, const std::string& begin, const std::string& end,
                  std::string_view what,
                  const std::function<absl::Status(std::string_view, std::string_view)>& fn) {
  rocksdb::ReadOptions read_options;
  const rocksdb::Slice upper = ToSlice(end);
  if (!end.empty()) {
    read_options.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    SHUFFLE_RETURN_IF_ERROR(fn(ToView(it->key()), ToView(it->value())));
  }
  return FromRocks(it->status(), what, db->GetName());
}

// Visits the decoded records of kind `tag` of one shuffle.
template <typename Record, typename Decode>
absl::Status ForEachOfHandle(rocksdb::DB* db, char tag, uint64_t handle, std::string_view what,
                             Decode decode, const std::function<absl::Status(const Record&)>& fn) {
  const std::string begin = codec::HandlePrefix(tag, handle);
  return Scan(db, begin, codec::PrefixSuccessor(begin), what,
              [&](std::string_view key, std::string_view value) -> absl::Status {
                SHUFFLE_ASSIGN_OR_RETURN(Record record, decode(key, value));
                return fn(record);
              });
}

}  // namespace

// ---- Batch ------------------------------------------------------------------------------------

Index::Batch::Batch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
Index::Batch::~Batch() = default;

// WriteBatch's Put/Delete only fail when the batch exceeds its (unset) size limit or a key or
// value exceeds 4 GiB; neither can happen with these records, so their statuses are not checked.
void Index::Batch::PutShuffle(const ShuffleRecord& record) {
  batch_->Put(codec::ShuffleKey(record.handle), codec::EncodeShuffle(record))
      .PermitUncheckedError();
}

void Index::Batch::PutExtent(const ExtentRecord& record) {
  batch_
      ->Put(codec::ExtentKey(record.handle, record.partition, record.dir, record.offset),
            codec::EncodeExtent(record))
      .PermitUncheckedError();
}

void Index::Batch::PutCommit(const CommitRecord& record) {
  batch_->Put(codec::CommitKey(record.handle, record.map), codec::EncodeCommit(record))
      .PermitUncheckedError();
}

void Index::Batch::PutLog(const LogRecord& record) {
  batch_
      ->Put(codec::LogKey(record.handle, record.dir, record.log_no, record.offset),
            codec::EncodeLog(record))
      .PermitUncheckedError();
}

void Index::Batch::DeleteLog(uint64_t handle, uint32_t dir, uint32_t log_no, uint64_t offset) {
  batch_->Delete(codec::LogKey(handle, dir, log_no, offset)).PermitUncheckedError();
}

void Index::Batch::DeleteShuffle(uint64_t handle) {
  batch_->Delete(codec::ShuffleKey(handle)).PermitUncheckedError();
  for (char tag : {codec::kExtentTag, codec::kCommitTag, codec::kLogTag}) {
    const std::string begin = codec::HandlePrefix(tag, handle);
    batch_->DeleteRange(begin, codec::PrefixSuccessor(begin)).PermitUncheckedError();
  }
}

void Index::Batch::PutEpoch(uint32_t epoch) {
  batch_->Put(codec::MetaKey(codec::kEpochName), codec::EncodeEpoch(epoch)).PermitUncheckedError();
}

void Index::Batch::PutNextHandle(uint64_t next_handle) {
  batch_->Put(codec::MetaKey(codec::kNextHandleName), codec::EncodeNextHandle(next_handle))
      .PermitUncheckedError();
}

bool Index::Batch::empty() const { return batch_->Count() == 0; }

void Index::Batch::Clear() { batch_->Clear(); }

size_t Index::Batch::count() const { return batch_->Count(); }

// ---- Index ------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Index>> Index::Open(const std::string& path,
                                                   const IndexOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.max_background_jobs = 2;
  db_options.write_buffer_size = options.write_buffer_bytes;
  db_options.manual_wal_flush = false;
  // RocksDB's info LOG files are for post-mortems; a few suffice on a sidecar.
  db_options.keep_log_file_num = 4;
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, &db);
  if (!s.ok()) {
    if (IsLockFailure(s)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "index: cannot open ", path, ": it is locked (is another shuffle-server using ", path,
          "?): ", s.ToString()));
    }
    return FromRocks(s, "open", path);
  }
  return std::unique_ptr<Index>(new Index(std::unique_ptr<rocksdb::DB>(db)));
}

Index::Index(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}

Index::~Index() {
  if (db_ == nullptr) {
    return;
  }
  const rocksdb::Status s = db_->Close();
  if (!s.ok()) {
    SHUFFLE_LOG(WARNING) << "closing the index failed" << core::Kv("path", db_->GetName())
                         << core::Kv("error", s.ToString());
  }
}

absl::Status Index::Write(Batch& batch, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  return FromRocks(db_->Write(write_options, batch.batch_.get()),
                   absl::StrCat("write of ", batch.count(), " records"), db_->GetName());
}

absl::StatusOr<uint32_t> Index::LoadEpoch() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), codec::MetaKey(codec::kEpochName), &value);
  if (s.IsNotFound()) {
    return 0;
  }
  SHUFFLE_RETURN_IF_ERROR(FromRocks(s, "read of the epoch", db_->GetName()));
  return codec::DecodeEpoch(value);
}

absl::StatusOr<uint64_t> Index::LoadNextHandle() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), codec::MetaKey(codec::kNextHandleName), &value);
  if (s.IsNotFound()) {
    return 0;
  }
  SHUFFLE_RETURN_IF_ERROR(FromRocks(s, "read of the next shuffle handle", db_->GetName()));
  return codec::DecodeNextHandle(value);
}

namespace {
std::string SideKey(std::string_view table, std::string_view key) {
  std::string out(1, 'X');
  out.append(table.data(), table.size());
  out.push_back('\0');
  out.append(key.data(), key.size());
  return out;
}
}  // namespace

absl::Status Index::PutSideRecord(std::string_view table, std::string_view key,
                                  std::string_view value, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  return FromRocks(db_->Put(write_options, ToSlice(SideKey(table, key)),
                            rocksdb::Slice(value.data(), value.size())),
                   absl::StrCat("put of a ", ToAbsl(table), " record"), db_->GetName());
}

absl::Status Index::DeleteSideRecord(std::string_view table, std::string_view key, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  return FromRocks(db_->Delete(write_options, ToSlice(SideKey(table, key))),
                   absl::StrCat("delete of a ", ToAbsl(table), " record"), db_->GetName());
}

absl::Status Index::ForEachSideRecord(
    std::string_view table,
    const std::function<absl::Status(std::string_view key, std::string_view value)>& fn) {
  const std::string begin = SideKey(table, "");
  return Scan(db_.get(), begin, codec::PrefixSuccessor(begin),
              absl::StrCat("scan of ", ToAbsl(table), " records"),
              [&](std::string_view key, std::string_view value) {
                return fn(key.substr(begin.size()), value);
              });
}

absl::Status Index::ForEachShuffle(const std::function<absl::Status(const ShuffleRecord&)>& fn) {
  const std::string begin = codec::TagPrefix(codec::kShuffleTag);
  return Scan(db_.get(), begin, codec::PrefixSuccessor(begin), "scan of shuffle records",
              [&](std::string_view key, std::string_view value) -> absl::Status {
                SHUFFLE_ASSIGN_OR_RETURN(ShuffleRecord record, codec::DecodeShuffle(key, value));
                return fn(record);
              });
}

absl::Status Index::ForEachCommit(uint64_t handle,
                                  const std::function<absl::Status(const CommitRecord&)>& fn) {
  return ForEachOfHandle<CommitRecord>(db_.get(), codec::kCommitTag, handle,
                                       absl::StrCat("scan of commit records of shuffle ", handle),
                                       codec::DecodeCommit, fn);
}

absl::Status Index::ForEachLog(uint64_t handle,
                               const std::function<absl::Status(const LogRecord&)>& fn) {
  return ForEachOfHandle<LogRecord>(db_.get(), codec::kLogTag, handle,
                                    absl::StrCat("scan of log records of shuffle ", handle),
                                    codec::DecodeLog, fn);
}

absl::Status Index::ForEachExtent(uint64_t handle,
                                  const std::function<absl::Status(const ExtentRecord&)>& fn) {
  return ForEachOfHandle<ExtentRecord>(db_.get(), codec::kExtentTag, handle,
                                       absl::StrCat("scan of extent records of shuffle ", handle),
                                       codec::DecodeExtent, fn);
}

absl::StatusOr<std::vector<ExtentRecord>> Index::ScanExtents(uint64_t handle,
                                                             uint32_t partition_begin,
                                                             uint32_t partition_end) {
  std::vector<ExtentRecord> extents;
  if (partition_begin >= partition_end) {
    return extents;
  }
  SHUFFLE_RETURN_IF_ERROR(Scan(db_.get(), codec::ExtentPartitionPrefix(handle, partition_begin),
                               codec::ExtentPartitionPrefix(handle, partition_end),
                               absl::StrCat("scan of extents of shuffle ", handle, " partitions [",
                                            partition_begin, ", ", partition_end, ")"),
                               [&](std::string_view key, std::string_view value) -> absl::Status {
                                 SHUFFLE_ASSIGN_OR_RETURN(ExtentRecord record,
                                                          codec::DecodeExtent(key, value));
                                 extents.push_back(std::move(record));
                                 return absl::OkStatus();
                               }));
  return extents;
}

absl::Status Index::Flush() {
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  return FromRocks(db_->Flush(flush_options), "flush", db_->GetName());
}

}  // namespace shuffle::storage
