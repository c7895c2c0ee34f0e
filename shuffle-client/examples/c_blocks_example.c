/* shuffle_c_blocks_example: the C ABI as an engine that serializes its own records uses it (the
 * Spark plugin's way): registers the application over the control plane, writes one map as
 * whole blocks (the shuffle registers itself with the first push), reads every partition back
 * by naming the map's location and attempt, checks each block, and removes the application.
 *
 *   shuffle_c_blocks_example DATA_SERVER CONTROL_SERVER APP_ID SHUFFLE_ID NUM_PARTITIONS [CA_FILE]
 *
 * With CA_FILE, every call (control, push, fetch) goes through TLS, the servers' certificates
 * checked against that PEM CA bundle.
 *
 * Exit status 0 when every block came back exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shuffle/client/shuffle_client_c.h"

enum { kBlocksPerPartition = 5 };

static int fail(const char* what, const shuffle_error* err) {
  fprintf(stderr, "%s failed (code %d): %s\n", what, err->code, err->message);
  return 1;
}

/* Block b of partition p: "p<P>b<B>" padded with its own digits to 3000 + 97 * b bytes. */
static size_t make_block(uint32_t p, uint32_t b, char* out) {
  const int head = snprintf(out, 32, "p%ub%u|", p, b);
  const size_t len = 3000 + 97 * b;
  for (size_t i = (size_t)head; i < len; ++i) {
    out[i] = (char)('0' + (i * 7 + p + b) % 10);
  }
  return len;
}

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr,
            "usage: %s DATA_SERVER CONTROL_SERVER APP_ID SHUFFLE_ID NUM_PARTITIONS [CA_FILE]\n",
            argv[0]);
    return 2;
  }
  shuffle_options options;
  shuffle_options_init(&options);
  options.register_shuffle_on_push = 1;
  options.tls_ca_file = argc == 7 ? argv[6] : NULL;
  shuffle_error err;
  char* token = NULL;
  /* The control calls' plain forms without a CA file, their _with_options forms with one. */
  if ((argc == 7 ? shuffle_control_register_application_with_options(
                       argv[2], &options, argv[3], "default", "", 10000, &token, &err)
                 : shuffle_control_register_application(argv[2], argv[3], "default", "", 10000,
                                                        &token, &err)) != 0) {
    return fail("shuffle_control_register_application", &err);
  }
  shuffle_target target = {argv[1], argv[3], token, (uint32_t)atoi(argv[4]),
                           (uint32_t)atoi(argv[5])};
  shuffle_writer* writer = NULL;
  if (shuffle_writer_open_with_options(&target, &options, /*map_id=*/2, /*attempt=*/41, &writer,
                                       &err) != 0) {
    return fail("shuffle_writer_open_with_options", &err);
  }
  static char block[8192];
  for (uint32_t p = 0; p < target.num_partitions; ++p) {
    for (uint32_t b = 0; b < kBlocksPerPartition; ++b) {
      const size_t len = make_block(p, b, block);
      if (shuffle_writer_write_block(writer, p, block, len, /*records=*/1, &err) != 0) {
        return fail("shuffle_writer_write_block", &err);
      }
    }
  }
  uint8_t* status = NULL;
  size_t status_len = 0;
  int won = 0;
  if (shuffle_writer_commit(writer, &status, &status_len, &won, &err) != 0) {
    return fail("shuffle_writer_commit", &err);
  }
  shuffle_free(status);
  shuffle_writer_close(writer);

  shuffle_map_location map = {argv[1], 2, 41};
  shuffle_reader* reader = NULL;
  if (shuffle_reader_open_locations(&target, &options, 0, target.num_partitions, &map, 1, &reader,
                                    &err) != 0) {
    return fail("shuffle_reader_open_locations", &err);
  }
  int seen[64][kBlocksPerPartition] = {{0}};
  long blocks = 0;
  for (;;) {
    const void* data = NULL;
    size_t len = 0;
    int has = 0;
    if (shuffle_reader_next_block(reader, &data, &len, &has, &err) != 0) {
      fprintf(stderr, "failed server: '%s'\n", shuffle_reader_failed_server(reader));
      return fail("shuffle_reader_next_block", &err);
    }
    if (!has) {
      break;
    }
    unsigned p = 0;
    unsigned b = 0;
    if (sscanf((const char*)data, "p%ub%u|", &p, &b) != 2 || p >= 64 || b >= kBlocksPerPartition ||
        len != make_block(p, b, block) || memcmp(data, block, len) != 0) {
      fprintf(stderr, "block %ld is not one that was written\n", blocks);
      return 1;
    }
    ++seen[p][b];
    ++blocks;
  }
  shuffle_reader_stats stats;
  shuffle_reader_get_stats(reader, &stats);
  shuffle_reader_close(reader);
  for (uint32_t p = 0; p < target.num_partitions && p < 64; ++p) {
    for (uint32_t b = 0; b < kBlocksPerPartition; ++b) {
      if (seen[p][b] != 1) {
        fprintf(stderr, "block %u of partition %u came back %d times\n", b, p, seen[p][b]);
        return 1;
      }
    }
  }
  uint64_t freed = 0;
  if ((argc == 7 ? shuffle_control_remove_application_with_options(argv[2], &options, argv[3],
                                                                   token, 10000, &freed, &err)
                 : shuffle_control_remove_application(argv[2], argv[3], token, 10000, &freed,
                                                      &err)) != 0) {
    return fail("shuffle_control_remove_application", &err);
  }
  shuffle_free(token);
  printf("read %ld blocks (%llu bytes; won=%d), removed the application (%llu bytes freed)\n",
         blocks, (unsigned long long)stats.bytes, won, (unsigned long long)freed);
  return blocks == (long)target.num_partitions * kBlocksPerPartition && freed > 0 ? 0 : 1;
}
