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

void shuffle_free(void* p);

#ifdef __cplusplus
}
#endif

#endif /* SHUFFLE_CLIENT_SHUFFLE_CLIENT_C_H_ */
