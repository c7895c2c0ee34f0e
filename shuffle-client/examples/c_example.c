/* shuffle_c_example: writes records for one map through the C ABI, commits, then reads every
 * partition back and checks the records. The shuffle must already be registered on the server.
 *
 *   shuffle_c_example SERVER APP_ID SHUFFLE_ID NUM_PARTITIONS [RECORDS [CA_FILE]]
 *
 * With CA_FILE the writer and the reader connect through TLS (the _with_options forms of the
 * calls), the server's certificate checked against that PEM CA bundle.
 *
 * Exit status 0 when every record came back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shuffle/client/shuffle_client_c.h"

static int fail(const char* what, const shuffle_error* err) {
  fprintf(stderr, "%s failed (code %d): %s\n", what, err->code, err->message);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s SERVER APP_ID SHUFFLE_ID NUM_PARTITIONS [RECORDS [CA_FILE]]\n",
            argv[0]);
    return 2;
  }
  shuffle_target target = {argv[1], argv[2], NULL, (uint32_t)atoi(argv[3]),
                           (uint32_t)atoi(argv[4])};
  const int records = argc > 5 ? atoi(argv[5]) : 10000;
  /* Without a CA file the simplest calls; with one, their _with_options forms. */
  const char* ca_file = argc > 6 ? argv[6] : NULL;
  shuffle_options tls;
  shuffle_options_init(&tls);
  tls.tls_ca_file = ca_file;
  shuffle_error err;
  shuffle_writer* writer = NULL;
  if ((ca_file != NULL
           ? shuffle_writer_open_with_options(&target, &tls, /*map_id=*/0, /*attempt=*/0, &writer,
                                              &err)
           : shuffle_writer_open(&target, /*map_id=*/0, /*attempt=*/0, &writer, &err)) != 0) {
    return fail("shuffle_writer_open", &err);
  }
  char key[32];
  char value[64];
  for (int i = 0; i < records; ++i) {
    int klen = snprintf(key, sizeof(key), "key-%d", i);
    int vlen = snprintf(value, sizeof(value), "value-%d", i * 7);
    if (shuffle_writer_write(writer, (uint32_t)i % target.num_partitions, key, (size_t)klen, value,
                             (size_t)vlen, &err) != 0) {
      return fail("shuffle_writer_write", &err);
    }
  }
  uint8_t* status = NULL;
  size_t status_len = 0;
  int won = 0;
  if (shuffle_writer_commit(writer, &status, &status_len, &won, &err) != 0) {
    return fail("shuffle_writer_commit", &err);
  }
  shuffle_writer_close(writer);

  const uint8_t* statuses[1] = {status};
  size_t lens[1] = {status_len};
  shuffle_reader* reader = NULL;
  if ((ca_file != NULL ? shuffle_reader_open_with_options(&target, &tls, 0, target.num_partitions,
                                                          statuses, lens, 1, &reader, &err)
                       : shuffle_reader_open(&target, 0, target.num_partitions, statuses, lens, 1,
                                             &reader, &err)) != 0) {
    return fail("shuffle_reader_open", &err);
  }
  long count = 0;
  long long key_sum = 0;
  for (;;) {
    const void *k, *v;
    size_t klen, vlen;
    int has = 0;
    if (shuffle_reader_next(reader, &k, &klen, &v, &vlen, &has, &err) != 0) {
      return fail("shuffle_reader_next", &err);
    }
    if (!has) {
      break;
    }
    char buf[32] = {0};
    memcpy(buf, (const char*)k + 4, klen - 4 < sizeof(buf) - 1 ? klen - 4 : sizeof(buf) - 1);
    key_sum += atoll(buf);
    ++count;
  }
  shuffle_reader_close(reader);
  shuffle_free(status);
  const long long want = (long long)records * (records - 1) / 2;
  printf("read %ld records (won=%d), key sum %lld (expected %lld)\n", count, won, key_sum, want);
  return count == records && key_sum == want ? 0 : 1;
}
