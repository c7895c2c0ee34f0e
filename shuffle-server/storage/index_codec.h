// Key and value encoding of the index's RocksDB records (see index.h for the key layout).
//
// Keys: a one-byte tag, then big-endian integers, so byte order is numeric order.
// Values: a one-byte format version (kIndexFormatVersion), then little-endian fixed-width
// integers; strings are a u32 length then the bytes; lists are a u32 count then the entries.
//   shuffle:  version(2) app_id:str namespace_name:str shuffle_id:u32 num_partitions:u32
//             created_unix_ms:u64 flags:u8 (bit 0: sealed); version 1, without flags, is
//             still read (sealed = false)
//   extent:   version length:u64 count:u32 count*BlockEntry
//   commit:   version attempt:u32 epoch:u32 num_partitions:u32 count:u32 count*PartitionTotal
//   log:      version length:u64 count:u32 count*BlockEntry
//   epoch:    version epoch:u32          next_handle: version next_handle:u64
//   BlockEntry (24 bytes):     map attempt epoch seq partition length, each u32
//   PartitionTotal (16 bytes): partition:u32 bytes:u64 blocks:u32
// The key's fields are not repeated in the value; decoders take both.
//
// Decoders reject a malformed key, an unknown version, a truncated value and trailing bytes with
// DATA_LOSS naming the record kind and its key fields. Pure functions; safe from any thread.
#ifndef SHUFFLE_SERVER_STORAGE_INDEX_CODEC_H_
#define SHUFFLE_SERVER_STORAGE_INDEX_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "shuffle-server/storage/index.h"

namespace shuffle::storage::index_codec {

inline constexpr char kShuffleTag = 'S';
inline constexpr char kExtentTag = 'E';
inline constexpr char kCommitTag = 'C';
inline constexpr char kLogTag = 'L';
inline constexpr char kMetaTag = 'M';

inline constexpr uint8_t kIndexFormatVersion = 1;
// Shuffle records gained a flags byte in version 2.
inline constexpr uint8_t kShuffleFormatVersion = 2;
inline constexpr uint8_t kShuffleSealedFlag = 1;
inline constexpr size_t kBlockEntrySize = 24;
inline constexpr size_t kPartitionTotalSize = 16;

inline constexpr std::string_view kEpochName = "epoch";
inline constexpr std::string_view kNextHandleName = "next_handle";

// Keys.
std::string ShuffleKey(uint64_t handle);
std::string ExtentKey(uint64_t handle, uint32_t partition, uint32_t dir, uint64_t offset);
// 'E' handle partition: the prefix of one partition's extents.
std::string ExtentPartitionPrefix(uint64_t handle, uint32_t partition);
std::string CommitKey(uint64_t handle, uint32_t map);
std::string LogKey(uint64_t handle, uint32_t dir, uint32_t log_no, uint64_t offset);
// tag handle: the prefix of every record of kind `tag` of one shuffle.
std::string HandlePrefix(char tag, uint64_t handle);
// The prefix of every record of kind `tag`.
std::string TagPrefix(char tag);
std::string MetaKey(std::string_view name);
// The smallest key greater than every key starting with `prefix`; empty when there is none
// (the prefix is empty or all 0xff bytes).
std::string PrefixSuccessor(std::string_view prefix);

// Values.
std::string EncodeShuffle(const ShuffleRecord& record);
std::string EncodeExtent(const ExtentRecord& record);
std::string EncodeCommit(const CommitRecord& record);
std::string EncodeLog(const LogRecord& record);
std::string EncodeEpoch(uint32_t epoch);
std::string EncodeNextHandle(uint64_t next_handle);

// Records from a key and its value.
absl::StatusOr<ShuffleRecord> DecodeShuffle(std::string_view key, std::string_view value);
absl::StatusOr<ExtentRecord> DecodeExtent(std::string_view key, std::string_view value);
absl::StatusOr<CommitRecord> DecodeCommit(std::string_view key, std::string_view value);
absl::StatusOr<LogRecord> DecodeLog(std::string_view key, std::string_view value);
absl::StatusOr<uint32_t> DecodeEpoch(std::string_view value);
absl::StatusOr<uint64_t> DecodeNextHandle(std::string_view value);

}  // namespace shuffle::storage::index_codec

#endif  // SHUFFLE_SERVER_STORAGE_INDEX_CODEC_H_
