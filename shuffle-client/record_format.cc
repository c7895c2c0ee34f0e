#include "shuffle-client/record_format.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shuffle::client {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 63 && *pos < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *v |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

void AppendRecord(std::string* out, std::string_view key, std::string_view value) {
  PutVarint(out, key.size());
  PutVarint(out, value.size());
  out->append(key);
  out->append(value);
}

absl::StatusOr<bool> RecordIterator::Next(std::string_view* key, std::string_view* value) {
  if (pos_ == raw_.size()) {
    return false;
  }
  uint64_t key_len = 0;
  uint64_t value_len = 0;
  if (!GetVarint(raw_, &pos_, &key_len) || !GetVarint(raw_, &pos_, &value_len) ||
      key_len > raw_.size() - pos_ || value_len > raw_.size() - pos_ - key_len) {
    return absl::DataLossError(
        absl::StrCat("malformed record at byte ", pos_, " of a ", raw_.size(), "-byte block"));
  }
  *key = raw_.substr(pos_, key_len);
  *value = raw_.substr(pos_ + key_len, value_len);
  pos_ += key_len + value_len;
  return true;
}

}  // namespace shuffle::client
