// The record format inside a block's raw bytes: for each record, the key length and the value
// length as LEB128 varints, then the key and value bytes. Pure functions; thread-safe.
#ifndef SHUFFLE_CLIENT_RECORD_FORMAT_H_
#define SHUFFLE_CLIENT_RECORD_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shuffle::client {

void AppendRecord(std::string* out, std::string_view key, std::string_view value);

// Iterates the records of one block's raw bytes.
class RecordIterator {
 public:
  explicit RecordIterator(std::string_view raw) : raw_(raw) {}
  // True with key/value set, false at the end, DATA_LOSS if the bytes are malformed.
  absl::StatusOr<bool> Next(std::string_view* key, std::string_view* value);

 private:
  std::string_view raw_;
  size_t pos_ = 0;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_RECORD_FORMAT_H_
