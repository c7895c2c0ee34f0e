#include "shuffle-server/storage/index_codec.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/coding.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::storage::index_codec {
namespace {

using core::ToAbsl;

constexpr size_t kShuffleKeySize = 1 + 8;
constexpr size_t kExtentKeySize = 1 + 8 + 4 + 4 + 8;
constexpr size_t kCommitKeySize = 1 + 8 + 4;
constexpr size_t kLogKeySize = 1 + 8 + 4 + 4 + 8;

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  core::EncodeFixed32(buf, v);
  dst->append(buf, sizeof(buf));
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  core::EncodeFixed64(buf, v);
  dst->append(buf, sizeof(buf));
}

void PutString(std::string* dst, std::string_view s) {
  PutFixed32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s);
}

void PutBlocks(std::string* dst, const std::vector<BlockEntry>& blocks) {
  PutFixed32(dst, static_cast<uint32_t>(blocks.size()));
  dst->reserve(dst->size() + blocks.size() * kBlockEntrySize);
  for (const BlockEntry& b : blocks) {
    PutFixed32(dst, b.map);
    PutFixed32(dst, b.attempt);
    PutFixed32(dst, b.epoch);
    PutFixed32(dst, b.seq);
    PutFixed32(dst, b.partition);
    PutFixed32(dst, b.length);
  }
}

std::string Begin(char tag, uint64_t handle) {
  std::string key(1, tag);
  core::PutBigEndian64(&key, handle);
  return key;
}

// Reads a value front to back. Every Read* returns false, consuming nothing, when too few bytes
// remain.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ReadU8(uint8_t* v) {
    if (in_.empty()) {
      return false;
    }
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool ReadU32(uint32_t* v) {
    if (in_.size() < 4) {
      return false;
    }
    *v = core::DecodeFixed32(in_.data());
    in_.remove_prefix(4);
    return true;
  }
  bool ReadU64(uint64_t* v) {
    if (in_.size() < 8) {
      return false;
    }
    *v = core::DecodeFixed64(in_.data());
    in_.remove_prefix(8);
    return true;
  }
  bool ReadString(std::string* s) {
    if (in_.size() < 4) {
      return false;
    }
    const uint32_t n = core::DecodeFixed32(in_.data());
    if (in_.size() - 4 < n) {
      return false;
    }
    s->assign(in_.data() + 4, n);
    in_.remove_prefix(4 + size_t{n});
    return true;
  }
  // Reads a u32 count of entries of `entry_size` bytes, checking that they are all present.
  bool ReadCount(size_t entry_size, uint32_t* count) {
    if (in_.size() < 4) {
      return false;
    }
    const uint32_t n = core::DecodeFixed32(in_.data());
    if ((in_.size() - 4) / entry_size < n) {
      return false;
    }
    *count = n;
    in_.remove_prefix(4);
    return true;
  }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

absl::Status Corrupt(std::string_view what, std::string_view problem) {
  return absl::DataLossError(absl::StrCat("index: corrupt ", ToAbsl(what), ": ", ToAbsl(problem)));
}

absl::Status MalformedKey(std::string_view kind, std::string_view key, size_t expected) {
  return absl::DataLossError(absl::StrCat("index: corrupt ", ToAbsl(kind), " key 0x",
                                          absl::BytesToHexString(ToAbsl(key)), ": ", key.size(),
                                          " bytes, expected ", expected));
}

// Checks the version byte, which must lie in [oldest, newest]; `what` names the record for the
// error. Returns the version read.
absl::StatusOr<uint8_t> ReadVersionIn(Reader* reader, std::string_view what, uint8_t oldest,
                                      uint8_t newest) {
  uint8_t version = 0;
  if (!reader->ReadU8(&version)) {
    return Corrupt(what, "value truncated (empty)");
  }
  if (version < oldest || version > newest) {
    const std::string reads =
        oldest == newest ? absl::StrCat(newest) : absl::StrCat(oldest, " to ", newest);
    return Corrupt(what, absl::StrCat("unsupported format version ", version, " (this build reads ",
                                      reads, ")"));
  }
  return version;
}

absl::Status ReadVersion(Reader* reader, std::string_view what) {
  return ReadVersionIn(reader, what, kIndexFormatVersion, kIndexFormatVersion).status();
}

absl::Status Finish(const Reader& reader, bool ok, std::string_view what) {
  if (!ok) {
    return Corrupt(what, "value truncated");
  }
  if (reader.remaining() != 0) {
    return Corrupt(what, absl::StrCat("value overlong: ", reader.remaining(), " trailing bytes"));
  }
  return absl::OkStatus();
}

bool ReadBlocks(Reader* reader, std::vector<BlockEntry>* blocks) {
  uint32_t count = 0;
  if (!reader->ReadCount(kBlockEntrySize, &count)) {
    return false;
  }
  blocks->resize(count);
  for (BlockEntry& b : *blocks) {
    // The count check above guarantees these reads succeed.
    reader->ReadU32(&b.map);
    reader->ReadU32(&b.attempt);
    reader->ReadU32(&b.epoch);
    reader->ReadU32(&b.seq);
    reader->ReadU32(&b.partition);
    reader->ReadU32(&b.length);
  }
  return true;
}

}  // namespace

std::string ShuffleKey(uint64_t handle) { return Begin(kShuffleTag, handle); }

std::string ExtentKey(uint64_t handle, uint32_t partition, uint32_t dir, uint64_t offset) {
  std::string key = Begin(kExtentTag, handle);
  core::PutBigEndian32(&key, partition);
  core::PutBigEndian32(&key, dir);
  core::PutBigEndian64(&key, offset);
  return key;
}

std::string ExtentPartitionPrefix(uint64_t handle, uint32_t partition) {
  std::string key = Begin(kExtentTag, handle);
  core::PutBigEndian32(&key, partition);
  return key;
}

std::string CommitKey(uint64_t handle, uint32_t map) {
  std::string key = Begin(kCommitTag, handle);
  core::PutBigEndian32(&key, map);
  return key;
}

std::string LogKey(uint64_t handle, uint32_t dir, uint32_t log_no, uint64_t offset) {
  std::string key = Begin(kLogTag, handle);
  core::PutBigEndian32(&key, dir);
  core::PutBigEndian32(&key, log_no);
  core::PutBigEndian64(&key, offset);
  return key;
}

std::string HandlePrefix(char tag, uint64_t handle) { return Begin(tag, handle); }

std::string TagPrefix(char tag) { return std::string(1, tag); }

std::string MetaKey(std::string_view name) {
  std::string key(1, kMetaTag);
  key.append(name);
  return key;
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

std::string EncodeShuffle(const ShuffleRecord& record) {
  std::string value(1, static_cast<char>(kShuffleFormatVersion));
  PutString(&value, record.app_id);
  PutString(&value, record.namespace_name);
  PutFixed32(&value, record.shuffle_id);
  PutFixed32(&value, record.num_partitions);
  PutFixed64(&value, record.created_unix_ms);
  value.push_back(static_cast<char>(record.sealed ? kShuffleSealedFlag : 0));
  return value;
}

std::string EncodeExtent(const ExtentRecord& record) {
  std::string value(1, static_cast<char>(kIndexFormatVersion));
  PutFixed64(&value, record.length);
  PutBlocks(&value, record.blocks);
  return value;
}

std::string EncodeCommit(const CommitRecord& record) {
  std::string value(1, static_cast<char>(kIndexFormatVersion));
  PutFixed32(&value, record.attempt);
  PutFixed32(&value, record.epoch);
  PutFixed32(&value, record.num_partitions);
  PutFixed32(&value, static_cast<uint32_t>(record.partitions.size()));
  value.reserve(value.size() + record.partitions.size() * kPartitionTotalSize);
  for (const PartitionTotal& p : record.partitions) {
    PutFixed32(&value, p.partition);
    PutFixed64(&value, p.bytes);
    PutFixed32(&value, p.blocks);
  }
  return value;
}

std::string EncodeLog(const LogRecord& record) {
  std::string value(1, static_cast<char>(kIndexFormatVersion));
  PutFixed64(&value, record.length);
  PutBlocks(&value, record.blocks);
  return value;
}

std::string EncodeEpoch(uint32_t epoch) {
  std::string value(1, static_cast<char>(kIndexFormatVersion));
  PutFixed32(&value, epoch);
  return value;
}

std::string EncodeNextHandle(uint64_t next_handle) {
  std::string value(1, static_cast<char>(kIndexFormatVersion));
  PutFixed64(&value, next_handle);
  return value;
}

absl::StatusOr<ShuffleRecord> DecodeShuffle(std::string_view key, std::string_view value) {
  if (key.size() != kShuffleKeySize || key[0] != kShuffleTag) {
    return MalformedKey("shuffle", key, kShuffleKeySize);
  }
  ShuffleRecord r;
  r.handle = core::GetBigEndian64(key.data() + 1);
  const std::string what = absl::StrCat("shuffle record for shuffle ", r.handle);
  Reader reader(value);
  SHUFFLE_ASSIGN_OR_RETURN(const uint8_t version,
                           ReadVersionIn(&reader, what, 1, kShuffleFormatVersion));
  bool ok = reader.ReadString(&r.app_id) && reader.ReadString(&r.namespace_name) &&
            reader.ReadU32(&r.shuffle_id) && reader.ReadU32(&r.num_partitions) &&
            reader.ReadU64(&r.created_unix_ms);
  uint8_t flags = 0;
  if (ok && version >= 2) {
    ok = reader.ReadU8(&flags);
  }
  SHUFFLE_RETURN_IF_ERROR(Finish(reader, ok, what));
  r.sealed = (flags & kShuffleSealedFlag) != 0;
  return r;
}

absl::StatusOr<ExtentRecord> DecodeExtent(std::string_view key, std::string_view value) {
  if (key.size() != kExtentKeySize || key[0] != kExtentTag) {
    return MalformedKey("extent", key, kExtentKeySize);
  }
  ExtentRecord r;
  r.handle = core::GetBigEndian64(key.data() + 1);
  r.partition = core::GetBigEndian32(key.data() + 9);
  r.dir = core::GetBigEndian32(key.data() + 13);
  r.offset = core::GetBigEndian64(key.data() + 17);
  const std::string what = absl::StrCat("extent record for shuffle ", r.handle, " partition ",
                                        r.partition, " dir ", r.dir, " offset ", r.offset);
  Reader reader(value);
  SHUFFLE_RETURN_IF_ERROR(ReadVersion(&reader, what));
  const bool ok = reader.ReadU64(&r.length) && ReadBlocks(&reader, &r.blocks);
  SHUFFLE_RETURN_IF_ERROR(Finish(reader, ok, what));
  return r;
}

absl::StatusOr<CommitRecord> DecodeCommit(std::string_view key, std::string_view value) {
  if (key.size() != kCommitKeySize || key[0] != kCommitTag) {
    return MalformedKey("commit", key, kCommitKeySize);
  }
  CommitRecord r;
  r.handle = core::GetBigEndian64(key.data() + 1);
  r.map = core::GetBigEndian32(key.data() + 9);
  const std::string what = absl::StrCat("commit record for shuffle ", r.handle, " map ", r.map);
  Reader reader(value);
  SHUFFLE_RETURN_IF_ERROR(ReadVersion(&reader, what));
  uint32_t count = 0;
  bool ok = reader.ReadU32(&r.attempt) && reader.ReadU32(&r.epoch) &&
            reader.ReadU32(&r.num_partitions) && reader.ReadCount(kPartitionTotalSize, &count);
  if (ok) {
    r.partitions.resize(count);
    for (PartitionTotal& p : r.partitions) {
      ok = ok && reader.ReadU32(&p.partition) && reader.ReadU64(&p.bytes) &&
           reader.ReadU32(&p.blocks);
    }
  }
  SHUFFLE_RETURN_IF_ERROR(Finish(reader, ok, what));
  return r;
}

absl::StatusOr<LogRecord> DecodeLog(std::string_view key, std::string_view value) {
  if (key.size() != kLogKeySize || key[0] != kLogTag) {
    return MalformedKey("log", key, kLogKeySize);
  }
  LogRecord r;
  r.handle = core::GetBigEndian64(key.data() + 1);
  r.dir = core::GetBigEndian32(key.data() + 9);
  r.log_no = core::GetBigEndian32(key.data() + 13);
  r.offset = core::GetBigEndian64(key.data() + 17);
  const std::string what = absl::StrCat("log record for shuffle ", r.handle, " dir ", r.dir,
                                        " log ", r.log_no, " offset ", r.offset);
  Reader reader(value);
  SHUFFLE_RETURN_IF_ERROR(ReadVersion(&reader, what));
  const bool ok = reader.ReadU64(&r.length) && ReadBlocks(&reader, &r.blocks);
  SHUFFLE_RETURN_IF_ERROR(Finish(reader, ok, what));
  return r;
}

absl::StatusOr<uint32_t> DecodeEpoch(std::string_view value) {
  const std::string what = absl::StrCat("metadata \"", ToAbsl(kEpochName), "\"");
  Reader reader(value);
  SHUFFLE_RETURN_IF_ERROR(ReadVersion(&reader, what));
  uint32_t epoch = 0;
  const bool ok = reader.ReadU32(&epoch);
  SHUFFLE_RETURN_IF_ERROR(Finish(reader, ok, what));
  return epoch;
}

absl::StatusOr<uint64_t> DecodeNextHandle(std::string_view value) {
  const std::string what = absl::StrCat("metadata \"", ToAbsl(kNextHandleName), "\"");
  Reader reader(value);
  SHUFFLE_RETURN_IF_ERROR(ReadVersion(&reader, what));
  uint64_t next_handle = 0;
  const bool ok = reader.ReadU64(&next_handle);
  SHUFFLE_RETURN_IF_ERROR(Finish(reader, ok, what));
  return next_handle;
}

}  // namespace shuffle::storage::index_codec
