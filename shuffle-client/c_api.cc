// The C ABI (shuffle_client_c.h) over MapOutputWriter and PartitionReader.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/client/shuffle_client_c.h"

struct shuffle_writer {
  std::unique_ptr<shuffle::client::MapOutputWriter> impl;
};
struct shuffle_reader {
  std::unique_ptr<shuffle::client::PartitionReader> impl;
};

namespace {

using shuffle::client::ClientOptions;
using shuffle::client::ShuffleHandle;

int Report(const absl::Status& st, shuffle_error* err) {
  if (err != nullptr) {
    err->code = static_cast<int>(st.code());
    const std::string message(st.message());
    std::strncpy(err->message, message.c_str(), sizeof(err->message) - 1);
    err->message[sizeof(err->message) - 1] = '\0';
  }
  return static_cast<int>(st.code());
}

int Invalid(const char* what, shuffle_error* err) {
  return Report(absl::InvalidArgumentError(what), err);
}

ShuffleHandle Handle(const shuffle_target& t) {
  return ShuffleHandle{.app_id = t.app_id,
                       .token = t.token != nullptr ? t.token : "",
                       .shuffle = shuffle::core::ShuffleId(t.shuffle_id),
                       .num_partitions = t.num_partitions};
}

ClientOptions Options(const shuffle_target& t) {
  ClientOptions options;
  options.server = t.server != nullptr ? t.server : "";
  return options;
}

}  // namespace

extern "C" {

int shuffle_writer_open(const shuffle_target* target, uint32_t map_id, uint32_t attempt,
                        shuffle_writer** out, shuffle_error* err) {
  if (target == nullptr || target->app_id == nullptr || out == nullptr) {
    return Invalid("shuffle_writer_open: target, target->app_id and out are required", err);
  }
  auto writer = shuffle::client::MapOutputWriter::Open(Options(*target), Handle(*target),
                                                       shuffle::core::MapId(map_id),
                                                       shuffle::core::AttemptId(attempt));
  if (!writer.ok()) {
    return Report(writer.status(), err);
  }
  *out = new shuffle_writer{std::move(*writer)};
  return 0;
}

int shuffle_writer_write(shuffle_writer* writer, uint32_t partition, const void* key,
                         size_t key_len, const void* value, size_t value_len, shuffle_error* err) {
  if (writer == nullptr || (key == nullptr && key_len > 0) || (value == nullptr && value_len > 0)) {
    return Invalid("shuffle_writer_write: null writer or buffer", err);
  }
  return Report(writer->impl->Write(shuffle::core::PartitionId(partition),
                                    std::string_view(static_cast<const char*>(key), key_len),
                                    std::string_view(static_cast<const char*>(value), value_len)),
                err);
}

int shuffle_writer_commit(shuffle_writer* writer, uint8_t** status, size_t* status_len, int* won,
                          shuffle_error* err) {
  if (writer == nullptr || status == nullptr || status_len == nullptr) {
    return Invalid("shuffle_writer_commit: writer, status and status_len are required", err);
  }
  auto result = writer->impl->Commit();
  if (!result.ok()) {
    return Report(result.status(), err);
  }
  const std::string bytes = result->status.Serialize();
  *status = static_cast<uint8_t*>(std::malloc(bytes.size() + 1));
  std::memcpy(*status, bytes.data(), bytes.size());
  *status_len = bytes.size();
  if (won != nullptr) {
    *won = result->won ? 1 : 0;
  }
  return 0;
}

void shuffle_writer_close(shuffle_writer* writer) { delete writer; }

int shuffle_reader_open(const shuffle_target* target, uint32_t partition_begin,
                        uint32_t partition_end, const uint8_t* const* statuses,
                        const size_t* status_lens, size_t num_statuses, shuffle_reader** out,
                        shuffle_error* err) {
  if (target == nullptr || target->app_id == nullptr || out == nullptr ||
      (num_statuses > 0 && (statuses == nullptr || status_lens == nullptr))) {
    return Invalid("shuffle_reader_open: target, app_id, out and the statuses are required", err);
  }
  std::vector<shuffle::client::MapStatus> parsed;
  for (size_t i = 0; i < num_statuses; ++i) {
    auto s = shuffle::client::MapStatus::Parse(
        std::string_view(reinterpret_cast<const char*>(statuses[i]), status_lens[i]));
    if (!s.ok()) {
      return Report(s.status(), err);
    }
    parsed.push_back(std::move(*s));
  }
  auto reader = shuffle::client::PartitionReader::Open(
      Options(*target), Handle(*target), shuffle::core::PartitionId(partition_begin),
      shuffle::core::PartitionId(partition_end), parsed);
  if (!reader.ok()) {
    return Report(reader.status(), err);
  }
  *out = new shuffle_reader{std::move(*reader)};
  return 0;
}

int shuffle_reader_next(shuffle_reader* reader, const void** key, size_t* key_len,
                        const void** value, size_t* value_len, int* has_record,
                        shuffle_error* err) {
  if (reader == nullptr || key == nullptr || key_len == nullptr || value == nullptr ||
      value_len == nullptr || has_record == nullptr) {
    return Invalid("shuffle_reader_next: null argument", err);
  }
  std::string_view k;
  std::string_view v;
  auto next = reader->impl->Next(&k, &v);
  if (!next.ok()) {
    return Report(next.status(), err);
  }
  *has_record = *next ? 1 : 0;
  *key = k.data();
  *key_len = k.size();
  *value = v.data();
  *value_len = v.size();
  return 0;
}

void shuffle_reader_close(shuffle_reader* reader) { delete reader; }

void shuffle_free(void* p) { std::free(p); }

}  // extern "C"
