// The C ABI (shuffle_client_c.h) over MapOutputWriter and PartitionReader.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "shuffle-client/c_api_internal.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/client/shuffle_client_c.h"

struct shuffle_writer {
  std::unique_ptr<shuffle::client::MapOutputWriter> impl;
  std::string failed_server;  // what shuffle_writer_failed_server() returns
};
struct shuffle_reader {
  std::unique_ptr<shuffle::client::PartitionReader> impl;
  std::string failed_server;  // what shuffle_reader_failed_server() returned last
};

namespace {

using shuffle::client::ClientOptions;
using shuffle::client::ShuffleHandle;

int Report(const absl::Status& st, shuffle_error* err) {
  return shuffle::client::ReportToC(st, err);
}

int Invalid(const char* what, shuffle_error* err) {
  return Report(absl::InvalidArgumentError(what), err);
}

// Report() for a call on `writer`, remembering which server a failure came from.
int ReportWriter(shuffle_writer* writer, const absl::Status& st, shuffle_error* err) {
  writer->failed_server = shuffle::client::WriterFailedServer(st);
  return Report(st, err);
}

// A MapStatus as the C ABI hands it out: serialized, in memory the caller frees with
// shuffle_free.
void ToC(const shuffle::client::MapStatus& s, uint8_t** out, size_t* out_len) {
  const std::string bytes = s.Serialize();
  *out = static_cast<uint8_t*>(std::malloc(bytes.size() + 1));
  std::memcpy(*out, bytes.data(), bytes.size());
  *out_len = bytes.size();
}

ShuffleHandle Handle(const shuffle_target& t) {
  return ShuffleHandle{.app_id = t.app_id,
                       .token = t.token != nullptr ? t.token : "",
                       .shuffle = shuffle::core::ShuffleId(t.shuffle_id),
                       .num_partitions = t.num_partitions};
}

ClientOptions Options(const shuffle_target& t, const shuffle_options* o = nullptr) {
  ClientOptions options = shuffle::client::FromC(o);
  options.server = t.server != nullptr ? t.server : "";
  return options;
}

}  // namespace

namespace shuffle::client {

static_assert(SHUFFLE_CODEC_NONE == static_cast<int>(core::Codec::kNone) &&
              SHUFFLE_CODEC_ZSTD == static_cast<int>(core::Codec::kZstd) &&
              SHUFFLE_CODEC_LZ4 == static_cast<int>(core::Codec::kLz4));

ClientOptions FromC(const shuffle_options* o) {
  ClientOptions options;
  if (o != nullptr) {
    options.compression_level = o->compression_level;
    options.compression_codec = static_cast<shuffle::core::Codec>(o->compression_codec);
    options.max_bytes_in_flight = o->max_bytes_in_flight;
    options.max_parallel_servers = o->max_parallel_servers;
    options.connect_timeout_ms = o->connect_timeout_ms;
    options.io_timeout_ms = o->io_timeout_ms;
    options.max_retries = o->max_retries;
    options.initial_backoff_ms = o->initial_backoff_ms;
    options.max_backoff_ms = o->max_backoff_ms;
    options.register_shuffle_on_push = o->register_shuffle_on_push != 0;
    options.writer_waits_for_server = o->writer_waits_for_server != 0;
    auto text = [](const char* s) { return std::string(s != nullptr ? s : ""); };
    options.tls_ca_file = text(o->tls_ca_file);
    options.tls_cert_file = text(o->tls_cert_file);
    options.tls_key_file = text(o->tls_key_file);
    options.tls_server_name = text(o->tls_server_name);
  }
  return options;
}

}  // namespace shuffle::client

extern "C" {

void shuffle_options_init(shuffle_options* options) {
  if (options == nullptr) {
    return;
  }
  const ClientOptions d;
  *options = shuffle_options{.compression_level = d.compression_level,
                             .max_bytes_in_flight = d.max_bytes_in_flight,
                             .max_parallel_servers = d.max_parallel_servers,
                             .connect_timeout_ms = d.connect_timeout_ms,
                             .io_timeout_ms = d.io_timeout_ms,
                             .max_retries = d.max_retries,
                             .initial_backoff_ms = d.initial_backoff_ms,
                             .max_backoff_ms = d.max_backoff_ms,
                             .register_shuffle_on_push = d.register_shuffle_on_push ? 1 : 0,
                             .writer_waits_for_server = d.writer_waits_for_server ? 1 : 0,
                             .tls_ca_file = nullptr,
                             .tls_cert_file = nullptr,
                             .tls_key_file = nullptr,
                             .tls_server_name = nullptr,
                             .compression_codec = static_cast<int>(d.compression_codec)};
}

int shuffle_writer_open(const shuffle_target* target, uint32_t map_id, uint32_t attempt,
                        shuffle_writer** out, shuffle_error* err) {
  return shuffle_writer_open_with_options(target, nullptr, map_id, attempt, out, err);
}

int shuffle_writer_open_with_options(const shuffle_target* target, const shuffle_options* options,
                                     uint32_t map_id, uint32_t attempt, shuffle_writer** out,
                                     shuffle_error* err) {
  return shuffle_writer_open_replicated(target, options, nullptr, map_id, attempt, out, err);
}

int shuffle_writer_open_replicated(const shuffle_target* target, const shuffle_options* options,
                                   const char* replica_server, uint32_t map_id, uint32_t attempt,
                                   shuffle_writer** out, shuffle_error* err) {
  if (target == nullptr || target->app_id == nullptr || out == nullptr) {
    return Invalid("shuffle_writer_open: target, target->app_id and out are required", err);
  }
  ClientOptions client_options = Options(*target, options);
  client_options.replica_server = replica_server != nullptr ? replica_server : "";
  auto writer = shuffle::client::MapOutputWriter::Open(client_options, Handle(*target),
                                                       shuffle::core::MapId(map_id),
                                                       shuffle::core::AttemptId(attempt));
  if (!writer.ok()) {
    return Report(writer.status(), err);
  }
  *out = new shuffle_writer{.impl = std::move(*writer), .failed_server = {}};
  return 0;
}

int shuffle_writer_write(shuffle_writer* writer, uint32_t partition, const void* key,
                         size_t key_len, const void* value, size_t value_len, shuffle_error* err) {
  if (writer == nullptr || (key == nullptr && key_len > 0) || (value == nullptr && value_len > 0)) {
    return Invalid("shuffle_writer_write: null writer or buffer", err);
  }
  return ReportWriter(
      writer,
      writer->impl->Write(shuffle::core::PartitionId(partition),
                          std::string_view(static_cast<const char*>(key), key_len),
                          std::string_view(static_cast<const char*>(value), value_len)),
      err);
}

int shuffle_writer_write_block(shuffle_writer* writer, uint32_t partition, const void* data,
                               size_t len, uint32_t records, shuffle_error* err) {
  if (writer == nullptr || (data == nullptr && len > 0)) {
    return Invalid("shuffle_writer_write_block: null writer or buffer", err);
  }
  return ReportWriter(
      writer,
      writer->impl->WriteBlock(shuffle::core::PartitionId(partition),
                               std::string_view(static_cast<const char*>(data), len), records),
      err);
}

uint64_t shuffle_writer_encoded_bytes(const shuffle_writer* writer) {
  return writer == nullptr ? 0 : writer->impl->encoded_bytes();
}

int shuffle_writer_commit(shuffle_writer* writer, uint8_t** status, size_t* status_len, int* won,
                          shuffle_error* err) {
  return shuffle_writer_commit_replicated(writer, status, status_len, won, nullptr, nullptr, err);
}

int shuffle_writer_commit_replicated(shuffle_writer* writer, uint8_t** status, size_t* status_len,
                                     int* won, uint8_t** replica_status, size_t* replica_status_len,
                                     shuffle_error* err) {
  if (writer == nullptr || status == nullptr || status_len == nullptr) {
    return Invalid("shuffle_writer_commit: writer, status and status_len are required", err);
  }
  auto result = writer->impl->Commit();
  if (!result.ok()) {
    return ReportWriter(writer, result.status(), err);
  }
  ToC(result->status, status, status_len);
  if (won != nullptr) {
    *won = result->won ? 1 : 0;
  }
  if (replica_status != nullptr && replica_status_len != nullptr) {
    *replica_status = nullptr;
    *replica_status_len = 0;
    if (result->replica.has_value()) {
      ToC(*result->replica, replica_status, replica_status_len);
    }
  }
  return 0;
}

const char* shuffle_writer_failed_server(shuffle_writer* writer) {
  return writer == nullptr ? "" : writer->failed_server.c_str();
}

void shuffle_writer_close(shuffle_writer* writer) { delete writer; }

int shuffle_reader_open(const shuffle_target* target, uint32_t partition_begin,
                        uint32_t partition_end, const uint8_t* const* statuses,
                        const size_t* status_lens, size_t num_statuses, shuffle_reader** out,
                        shuffle_error* err) {
  return shuffle_reader_open_with_options(target, nullptr, partition_begin, partition_end, statuses,
                                          status_lens, num_statuses, out, err);
}

int shuffle_reader_open_with_options(const shuffle_target* target, const shuffle_options* options,
                                     uint32_t partition_begin, uint32_t partition_end,
                                     const uint8_t* const* statuses, const size_t* status_lens,
                                     size_t num_statuses, shuffle_reader** out,
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
      Options(*target, options), Handle(*target), shuffle::core::PartitionId(partition_begin),
      shuffle::core::PartitionId(partition_end), parsed);
  if (!reader.ok()) {
    return Report(reader.status(), err);
  }
  *out = new shuffle_reader{.impl = std::move(*reader), .failed_server = {}};
  return 0;
}

int shuffle_reader_open_locations(const shuffle_target* target, const shuffle_options* options,
                                  uint32_t partition_begin, uint32_t partition_end,
                                  const shuffle_map_location* maps, size_t num_maps,
                                  shuffle_reader** out, shuffle_error* err) {
  if (target == nullptr || target->app_id == nullptr || out == nullptr ||
      (num_maps > 0 && maps == nullptr)) {
    return Invalid("shuffle_reader_open_locations: target, app_id, out and maps are required", err);
  }
  std::vector<shuffle::client::MapLocation> locations;
  locations.reserve(num_maps);
  for (size_t i = 0; i < num_maps; ++i) {
    if (maps[i].address == nullptr) {
      return Invalid("shuffle_reader_open_locations: a map location has no address", err);
    }
    locations.push_back(
        shuffle::client::MapLocation{.address = maps[i].address,
                                     .map = shuffle::core::MapId(maps[i].map_id),
                                     .attempt = shuffle::core::AttemptId(maps[i].attempt)});
  }
  auto reader = shuffle::client::PartitionReader::Open(
      Options(*target, options), Handle(*target), shuffle::core::PartitionId(partition_begin),
      shuffle::core::PartitionId(partition_end), locations);
  if (!reader.ok()) {
    return Report(reader.status(), err);
  }
  *out = new shuffle_reader{.impl = std::move(*reader), .failed_server = {}};
  return 0;
}

int shuffle_reader_next_block(shuffle_reader* reader, const void** data, size_t* len,
                              int* has_block, shuffle_error* err) {
  if (reader == nullptr || data == nullptr || len == nullptr || has_block == nullptr) {
    return Invalid("shuffle_reader_next_block: null argument", err);
  }
  std::string_view raw;
  auto next = reader->impl->NextBlock(&raw);
  if (!next.ok()) {
    return Report(next.status(), err);
  }
  *has_block = *next ? 1 : 0;
  *data = raw.data();
  *len = raw.size();
  return 0;
}

const char* shuffle_reader_failed_server(shuffle_reader* reader) {
  if (reader == nullptr) {
    return "";
  }
  reader->failed_server = reader->impl->failed_server();
  return reader->failed_server.c_str();
}

void shuffle_reader_get_stats(const shuffle_reader* reader, shuffle_reader_stats* out) {
  if (reader == nullptr || out == nullptr) {
    return;
  }
  const shuffle::client::PartitionReader::Stats s = reader->impl->stats();
  *out = shuffle_reader_stats{
      .blocks = s.blocks, .bytes = s.bytes, .records = s.records, .retries = s.retries};
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
