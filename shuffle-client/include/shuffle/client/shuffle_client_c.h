/* C ABI of the shuffle client, for engines written in Rust, Go or Java (JNI or Panama).
 *
 * Every function that can fail returns 0 on success or a non-zero status code (the gRPC / absl
 * codes: 3 invalid argument, 5 not found, 10 aborted, 14 unavailable, 15 data loss, ...) and,
 * when `err` is not NULL, fills it with the code and a message. A map status crosses the ABI as
 * opaque bytes (the serialized shuffle.proto.MapStatus) for the engine to hand to its driver.
 *
 * Thread-safety: a writer or reader handle is used by one thread at a time; distinct handles are
 * independent. */
#ifndef SHUFFLE_CLIENT_SHUFFLE_CLIENT_C_H_
#define SHUFFLE_CLIENT_SHUFFLE_CLIENT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shuffle_writer shuffle_writer;
typedef struct shuffle_reader shuffle_reader;

/* C ABI names follow C conventions. */
typedef struct shuffle_error { /* NOLINT(readability-identifier-naming) */
  int code;
  char message[512];
} shuffle_error;

/* The shuffle both handles work on. `server` is "host:port", "unix:/path", or NULL/"" to
 * discover the node-local server from the environment (SHUFFLE_SERVER_SOCKET, ...). */
typedef struct shuffle_target { /* NOLINT(readability-identifier-naming) */
  const char* server;
  const char* app_id;
  const char* token; /* may be NULL */
  uint32_t shuffle_id;
  uint32_t num_partitions;
} shuffle_target;

int shuffle_writer_open(const shuffle_target* target, uint32_t map_id, uint32_t attempt,
                        shuffle_writer** out, shuffle_error* err);
int shuffle_writer_write(shuffle_writer* writer, uint32_t partition, const void* key,
                         size_t key_len, const void* value, size_t value_len, shuffle_error* err);
/* On success *status / *status_len hold the serialized MapStatus (free with shuffle_free) and
 * *won says whether this attempt's output is the one served. */
int shuffle_writer_commit(shuffle_writer* writer, uint8_t** status, size_t* status_len, int* won,
                          shuffle_error* err);
void shuffle_writer_close(shuffle_writer* writer);

/* `statuses[i]` / `status_lens[i]`: the serialized MapStatus of every map of the shuffle. */
int shuffle_reader_open(const shuffle_target* target, uint32_t partition_begin,
                        uint32_t partition_end, const uint8_t* const* statuses,
                        const size_t* status_lens, size_t num_statuses, shuffle_reader** out,
                        shuffle_error* err);
/* *has_record is 1 with key/value pointing into the reader (valid until the next call), or 0 at
 * the end. */
int shuffle_reader_next(shuffle_reader* reader, const void** key, size_t* key_len,
                        const void** value, size_t* value_len, int* has_record, shuffle_error* err);
void shuffle_reader_close(shuffle_reader* reader);

/* ---- Tuning, and block-level I/O for engines that serialize their own records (the Spark
 * plugin): the engine hands whole blocks of its record bytes to the writer and gets them back
 * whole from the reader; the library compresses, checksums, pushes, commits, fetches, verifies
 * and delivers every block exactly once. */

/* Client options; shuffle_options_init() fills the library's defaults. */
typedef struct shuffle_options { /* NOLINT(readability-identifier-naming) */
  int compression_level;         /* compression_codec's level; 0: blocks stored uncompressed */
  uint64_t max_bytes_in_flight;  /* reader: decoded bytes fetched but not yet consumed */
  uint32_t max_parallel_servers; /* reader: servers fetched from at once */
  int64_t connect_timeout_ms;
  int64_t io_timeout_ms;
  int32_t max_retries; /* per server, for retryable errors (a server restarting, overload) */
  int64_t initial_backoff_ms;
  int64_t max_backoff_ms;
  /* Writer: pushes carry the partition count, so a server that does not know the shuffle
   * registers it (authorized by the application's token). */
  int register_shuffle_on_push;
  /* Writer: wait (retries, backoff) for a server that refuses connections (restarting). */
  int writer_waits_for_server;
  /* TLS to servers reached over TCP (NULL or "": plaintext): the PEM CA bundle of the servers'
   * certificates; for mutual TLS a client certificate and key; the name the servers'
   * certificates must carry (NULL: the host dialled). Copied at open. */
  const char* tls_ca_file;
  const char* tls_cert_file;
  const char* tls_key_file;
  const char* tls_server_name;
  /* Writer: the blocks' codec, SHUFFLE_CODEC_ZSTD (the default) or SHUFFLE_CODEC_LZ4 (then
   * compression_level is 1, or -N for LZ4's acceleration N); SHUFFLE_CODEC_NONE stores them
   * uncompressed. A reader decodes every codec. */
  int compression_codec;
} shuffle_options;

/* The codecs of shuffle_options.compression_codec. */
#define SHUFFLE_CODEC_NONE 0
#define SHUFFLE_CODEC_ZSTD 1
#define SHUFFLE_CODEC_LZ4 2

void shuffle_options_init(shuffle_options* options);

/* shuffle_writer_open with options (NULL: the defaults). */
int shuffle_writer_open_with_options(const shuffle_target* target, const shuffle_options* options,
                                     uint32_t map_id, uint32_t attempt, shuffle_writer** out,
                                     shuffle_error* err);
/* Appends one block: `len` bytes holding `records` records in the engine's own format. */
int shuffle_writer_write_block(shuffle_writer* writer, uint32_t partition, const void* data,
                               size_t len, uint32_t records, shuffle_error* err);
/* Encoded bytes of the blocks made so far (compressed, block headers included). */
uint64_t shuffle_writer_encoded_bytes(const shuffle_writer* writer);

/* ---- A second copy (replicas=2, docs/node-loss.md): every block is also pushed to
 * `replica_server` (the data address, "host:port", of a server on another node) and the map is
 * committed there too. NULL or "": one copy, as shuffle_writer_open_with_options. */
int shuffle_writer_open_replicated(const shuffle_target* target, const shuffle_options* options,
                                   const char* replica_server, uint32_t map_id, uint32_t attempt,
                                   shuffle_writer** out, shuffle_error* err);
/* shuffle_writer_commit that also returns the output's place on the replica: on success
 * *replica_status / *replica_status_len hold its serialized MapStatus (free with shuffle_free),
 * or NULL / 0 for a writer with one copy. Fails unless both copies are durable. */
int shuffle_writer_commit_replicated(shuffle_writer* writer, uint8_t** status, size_t* status_len,
                                     int* won, uint8_t** replica_status, size_t* replica_status_len,
                                     shuffle_error* err);
/* After a failed call on the writer: the address of the server the failure came from (the
 * primary or the replica), or "" when it was not one server's. Lives as long as the writer. */
const char* shuffle_writer_failed_server(shuffle_writer* writer);

/* One map to read: the server that holds it and the attempt to read. */
typedef struct shuffle_map_location { /* NOLINT(readability-identifier-naming) */
  const char* address;
  uint32_t map_id;
  uint32_t attempt;
} shuffle_map_location;

/* shuffle_reader_open with options (NULL: the defaults), for TLS or tuning. */
int shuffle_reader_open_with_options(const shuffle_target* target, const shuffle_options* options,
                                     uint32_t partition_begin, uint32_t partition_end,
                                     const uint8_t* const* statuses, const size_t* status_lens,
                                     size_t num_statuses, shuffle_reader** out, shuffle_error* err);

/* Opens a reader of partitions [partition_begin, partition_end) of the listed maps. It asks each
 * server what it holds of them first; a server that lacks a listed attempt fails the reader with
 * code 5 (not found) and shuffle_reader_failed_server() names it. `options` may be NULL. */
int shuffle_reader_open_locations(const shuffle_target* target, const shuffle_options* options,
                                  uint32_t partition_begin, uint32_t partition_end,
                                  const shuffle_map_location* maps, size_t num_maps,
                                  shuffle_reader** out, shuffle_error* err);
/* *has_block is 1 with *data / *len the next block's record bytes (valid until the next call),
 * or 0 at the end. Use either shuffle_reader_next or shuffle_reader_next_block on a reader. */
int shuffle_reader_next_block(shuffle_reader* reader, const void** data, size_t* len,
                              int* has_block, shuffle_error* err);
/* After a failed call: the address of the server whose blocks could not be had, or "" when the
 * failure was not one server's. The string lives as long as the reader. */
const char* shuffle_reader_failed_server(shuffle_reader* reader);

typedef struct shuffle_reader_stats { /* NOLINT(readability-identifier-naming) */
  uint64_t blocks;
  uint64_t bytes; /* encoded block bytes received */
  uint64_t records;
  uint64_t retries;
} shuffle_reader_stats;
void shuffle_reader_get_stats(const shuffle_reader* reader, shuffle_reader_stats* out);

/* ---- The driver's calls to one server's control plane ("host:port"); each waits up to
 * timeout_ms (0 or less: 20 s; a restarting server is waited for). Each has a _with_options
 * form whose options (NULL: plaintext) give the TLS to use: only their tls_* fields are read
 * (the CA that signs the servers' certificates, a client certificate and key for mutual TLS, the
 * name the certificate must carry). */

/* On success *token is the application's token (free with shuffle_free). */
int shuffle_control_register_application(const char* control_address, const char* app_id,
                                         const char* namespace_name, const char* identity_token,
                                         int64_t timeout_ms, char** token, shuffle_error* err);
int shuffle_control_register_shuffle(const char* control_address, const char* app_id,
                                     const char* token, uint32_t shuffle_id, uint32_t num_maps,
                                     uint32_t num_partitions, int64_t timeout_ms,
                                     shuffle_error* err);
int shuffle_control_seal_shuffle(const char* control_address, const char* app_id, const char* token,
                                 uint32_t shuffle_id, int64_t timeout_ms, shuffle_error* err);
int shuffle_control_remove_shuffle(const char* control_address, const char* app_id,
                                   const char* token, uint32_t shuffle_id, int64_t timeout_ms,
                                   uint64_t* freed_bytes, shuffle_error* err);
int shuffle_control_remove_application(const char* control_address, const char* app_id,
                                       const char* token, int64_t timeout_ms, uint64_t* freed_bytes,
                                       shuffle_error* err);

int shuffle_control_register_application_with_options(
    const char* control_address, const shuffle_options* options, const char* app_id,
    const char* namespace_name, const char* identity_token, int64_t timeout_ms, char** token,
    shuffle_error* err);
int shuffle_control_register_shuffle_with_options(const char* control_address,
                                                  const shuffle_options* options,
                                                  const char* app_id, const char* token,
                                                  uint32_t shuffle_id, uint32_t num_maps,
                                                  uint32_t num_partitions, int64_t timeout_ms,
                                                  shuffle_error* err);
int shuffle_control_seal_shuffle_with_options(const char* control_address,
                                              const shuffle_options* options, const char* app_id,
                                              const char* token, uint32_t shuffle_id,
                                              int64_t timeout_ms, shuffle_error* err);
int shuffle_control_remove_shuffle_with_options(const char* control_address,
                                                const shuffle_options* options, const char* app_id,
                                                const char* token, uint32_t shuffle_id,
                                                int64_t timeout_ms, uint64_t* freed_bytes,
                                                shuffle_error* err);
int shuffle_control_remove_application_with_options(const char* control_address,
                                                    const shuffle_options* options,
                                                    const char* app_id, const char* token,
                                                    int64_t timeout_ms, uint64_t* freed_bytes,
                                                    shuffle_error* err);

void shuffle_free(void* p);

#ifdef __cplusplus
}
#endif

#endif /* SHUFFLE_CLIENT_SHUFFLE_CLIENT_C_H_ */
